#!/usr/bin/python3
"""A Reitunnel hook service in Python (Debian's python3-grpcio).

    ninja -C build hookd_python_stubs     # stubs + a copy of this file in build/python/
    /usr/bin/python3 build/python/hook_service.py --listen=127.0.0.1:7100 \
        --deny-tunnel-name='^admin' --allow-label=team=blue

Policy: OnClientConnect allows agents carrying one of the --allow-label
KEY=VALUE labels (every agent when none is given); OnTunnelOpen denies tunnel
names matching any --deny-tunnel-name regex (searched anywhere in the name).
Every event, including each data batch of StreamDataEvents, is logged as one
JSON line on stdout. On startup it prints {"event":"listening","port":N,...}
with the bound port (--listen=HOST:0 picks one). SIGTERM/SIGINT stop it.

grpc's thread pool calls the servicer concurrently: the policy is read-only
and each log line is one write under a lock, so that is safe.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import signal
import sys
import threading

# The generated stubs live next to this file in build/python/; from the source
# tree, point REITUNNEL_HOOK_STUBS (or PYTHONPATH) at build/python.
for _path in (os.environ.get("REITUNNEL_HOOK_STUBS"), os.path.dirname(os.path.abspath(__file__))):
    if _path and _path not in sys.path:
        sys.path.insert(0, _path)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

try:
    from reitunnel.hook.v1 import hook_pb2, hook_pb2_grpc  # noqa: E402
except ImportError as e:
    sys.exit(f"hook_service.py: cannot import the hook stubs ({e}); build them with "
             "`ninja -C build hookd_python_stubs` and run build/python/hook_service.py, "
             "or set REITUNNEL_HOOK_STUBS=build/python")

_print_lock = threading.Lock()


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"), sort_keys=False)
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def log_event(event, message, **extra):
    record = {"event": event,
              "audit_time": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    record.update(extra)
    record.update(json_format.MessageToDict(message, preserving_proto_field_name=True))
    emit(record)


def allow():
    return hook_pb2.DecisionResponse(decision=hook_pb2.ALLOW)


def deny(reason):
    return hook_pb2.DecisionResponse(decision=hook_pb2.DENY, reason=reason)


class HookService(hook_pb2_grpc.HookServiceServicer):
    def __init__(self, allow_labels, deny_names):
        self._allow_labels = allow_labels      # [(key, value)]
        self._deny_names = deny_names          # [compiled regex]
        self._last_sequence = {}               # server instance id -> last batch sequence
        self._lock = threading.Lock()

    def _decide(self, event, request, answer):
        log_event(event, request, decision="allow" if answer.decision == hook_pb2.ALLOW else "deny",
                  **({"reason": answer.reason} if answer.reason else {}))
        return answer

    def OnServerStart(self, request, context):
        return self._decide("server_start", request, allow())

    def OnClientConnect(self, request, context):
        answer = allow()
        if self._allow_labels and not any(request.metadata.get("label." + k) == v
                                          for k, v in self._allow_labels):
            wanted = " or ".join(f"{k}={v}" for k, v in self._allow_labels)
            answer = deny(f"agent not allowed: needs label {wanted}")
        return self._decide("client_connect", request, answer)

    def OnTunnelOpen(self, request, context):
        answer = allow()
        if any(r.search(request.tunnel_name) for r in self._deny_names):
            answer = deny(f'tunnel name "{request.tunnel_name}" is reserved by policy')
        return self._decide("tunnel_open", request, answer)

    def OnVisitorConnect(self, request, context):
        return self._decide("visitor_connect", request, allow())

    def OnServerStop(self, request, context):
        log_event("server_stop", request)
        return hook_pb2.Ack()

    def OnClientDisconnect(self, request, context):
        log_event("client_disconnect", request)
        return hook_pb2.Ack()

    def OnTunnelClose(self, request, context):
        log_event("tunnel_close", request)
        return hook_pb2.Ack()

    def OnError(self, request, context):
        log_event("error", request)
        return hook_pb2.Ack()

    def OnVisitorDisconnect(self, request, context):
        log_event("visitor_disconnect", request)
        return hook_pb2.Ack()

    def StreamDataEvents(self, request_iterator, context):
        # One line per batch until the server ends the stream.
        for batch in request_iterator:
            extra = {}
            with self._lock:
                instance = batch.context.server.instance_id
                last = self._last_sequence.get(instance, 0)
                if last and batch.sequence > last + 1:
                    extra["missed_batches"] = batch.sequence - last - 1
                self._last_sequence[instance] = batch.sequence
            log_event("data_batch", batch, **extra)
        return hook_pb2.Ack()


def add_health(server):
    """Serves grpc.health.v1 when a Python implementation or stubs exist."""
    try:
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
        servicer = health.HealthServicer()
        for name in ("", "reitunnel.hook.v1.HookService"):
            servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        return True
    except ImportError:
        pass
    try:
        # Generated at build time from Debian's grpc-proto.
        from hookd_health import health_pb2, health_pb2_grpc
    except ImportError:
        return False

    class Health(health_pb2_grpc.HealthServicer):
        def Check(self, request, context):
            if request.service not in ("", "reitunnel.hook.v1.HookService"):
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    return True


def parse_args(argv):
    p = argparse.ArgumentParser(description="Reitunnel hook service (Python example)")
    p.add_argument("--listen", default="127.0.0.1:7100", help="HOST:PORT (port 0 picks one)")
    p.add_argument("--deny-tunnel-name", action="append", default=[], metavar="REGEX",
                   help="deny tunnels whose name matches (repeatable)")
    p.add_argument("--allow-label", action="append", default=[], metavar="KEY=VALUE",
                   help="allow only agents carrying one of these labels (repeatable)")
    p.add_argument("--tls-cert", help="serve TLS with this PEM certificate")
    p.add_argument("--tls-key", help="... and key")
    args = p.parse_args(argv)
    try:
        args.deny_tunnel_name = [re.compile(r) for r in args.deny_tunnel_name]
    except re.error as e:
        p.error(f"--deny-tunnel-name: bad regex: {e}")
    labels = []
    for item in args.allow_label:
        key, sep, value = item.partition("=")
        if not key or not sep:
            p.error(f"--allow-label={item}: want KEY=VALUE")
        labels.append((key, value))
    args.allow_label = labels
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def main(argv):
    args = parse_args(argv)
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=16),
        options=[
            # reitunneld keeps its data stream alive with pings; gRPC's default
            # server policy would answer pings more frequent than 5 min with GOAWAY.
            ("grpc.http2.min_ping_interval_without_data_ms", 10000),
            ("grpc.keepalive_permit_without_calls", 1),
            # No SO_REUSEPORT: a second copy on the same port must fail, not
            # silently take half of the calls.
            ("grpc.so_reuseport", 0),
        ])
    hook_pb2_grpc.add_HookServiceServicer_to_server(
        HookService(args.allow_label, args.deny_tunnel_name), server)
    health = add_health(server)
    try:
        if args.tls_cert:
            with open(args.tls_key, "rb") as k, open(args.tls_cert, "rb") as c:
                credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
            port = server.add_secure_port(args.listen, credentials)
        else:
            port = server.add_insecure_port(args.listen)
    except (OSError, RuntimeError) as e:  # grpcio raises RuntimeError when the bind fails
        print(f"hook_service.py: cannot listen on {args.listen}: {e}", file=sys.stderr)
        return 1
    if port == 0:
        print(f"hook_service.py: cannot listen on {args.listen}", file=sys.stderr)
        return 1

    stop = threading.Event()
    received = []

    def on_signal(signum, _frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    host = args.listen.rsplit(":", 1)[0]
    emit({"event": "listening", "port": port, "address": f"{host}:{port}", "health": health})
    stop.wait()
    # Calls in flight (the server's data stream) get a second, then are cancelled.
    server.stop(grace=1).wait()
    emit({"event": "stopped", "signal": received[0] if received else "none"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
