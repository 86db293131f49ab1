"""The admin API (proto/reitunnel/admin/v1/admin.proto) from Python tests,
without reitunnelctl: message classes are generated once per process with
protoc into a temp dir, calls go through a generic gRPC channel (Debian's
python3-grpcio) with the bearer token.

    api = AdminApi(server.admin_addr, token)
    api.call("ListBans", api.pb.ListBansRequest())
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_ROOT = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "proto")
_pb = None


def admin_pb2():
    """The generated reitunnel.admin.v1 module (protoc on first use)."""
    global _pb
    if _pb is not None:
        return _pb
    protoc = shutil.which("protoc")
    if not protoc:
        raise unittest.SkipTest("protoc not found (Debian: protobuf-compiler)")
    out = tempfile.mkdtemp(prefix="reitunnel-admin-pb-")
    subprocess.run([protoc, "-I", _PROTO_ROOT, f"--python_out={out}",
                    "reitunnel/admin/v1/admin.proto", "reitunnel/hook/v1/hook.proto"],
                   check=True, capture_output=True)
    sys.path.insert(0, out)
    from reitunnel.admin.v1 import admin_pb2 as pb  # noqa: PLC0415
    _pb = pb
    return pb


class AdminApi:
    def __init__(self, addr, token, timeout=20):
        try:
            import grpc  # noqa: PLC0415
        except ImportError as e:
            raise unittest.SkipTest(f"python grpc not available: {e}")
        self.grpc = grpc
        self.pb = admin_pb2()
        self.addr = addr
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.timeout = timeout

    def call(self, method, request):
        """Unary call; returns the response message, raises grpc.RpcError."""
        desc = self.pb.DESCRIPTOR.services_by_name["AdminService"].methods_by_name[method]
        from google.protobuf import symbol_database  # noqa: PLC0415
        resp_cls = symbol_database.Default().GetSymbol(desc.output_type.full_name)
        with self.grpc.insecure_channel(self.addr) as ch:
            fn = ch.unary_unary(f"/reitunnel.admin.v1.AdminService/{method}",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=resp_cls.FromString)
            return fn(request, timeout=self.timeout, metadata=self.metadata)

    # -- the calls the tests use -------------------------------------------------

    def tunnels(self, include_not_open=False, client_id=""):
        r = self.call("ListTunnels", self.pb.ListTunnelsRequest(
            include_not_open=include_not_open, client_id=client_id, page_size=1000))
        return list(r.tunnels)

    def kick(self, client_id, reason="", ban_seconds=0):
        return self.call("DisconnectClient", self.pb.DisconnectClientRequest(
            client_id=client_id, reason=reason, ban_seconds=ban_seconds))

    def close_tunnel(self, tunnel_id, reason="", ban_seconds=0):
        return self.call("CloseTunnel", self.pb.CloseTunnelRequest(
            tunnel_id=tunnel_id, reason=reason, ban_seconds=ban_seconds))

    def bans(self):
        return list(self.call("ListBans", self.pb.ListBansRequest()).bans)

    def remove_ban(self, identity, tunnel_name=""):
        return self.call("RemoveBan", self.pb.RemoveBanRequest(identity=identity,
                                                               tunnel_name=tunnel_name))
