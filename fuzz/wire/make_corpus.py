#!/usr/bin/python3
"""Writes the seed corpus of wire_frame_fuzzer: one encoded frame (header +
payload) per message type, plus a few bare payloads.

    /usr/bin/python3 fuzz/wire/make_corpus.py   (needs protoc and python3-protobuf)
"""
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
out = os.path.join(here, "corpus", "wire_frame_fuzzer")

with tempfile.TemporaryDirectory() as gen:
    subprocess.check_call(["protoc", "-I", os.path.join(root, "proto"), "--python_out", gen,
                           "reitunnel/wire/v1/wire.proto"])
    sys.path.insert(0, gen)
    from reitunnel.wire.v1 import wire_pb2 as w

    def frame(**kw):
        f = w.Frame()
        for k, v in kw.items():
            getattr(f, k).CopyFrom(v)
        return f

    frames = {
        "challenge": frame(challenge=w.Challenge(nonce=bytes(range(32)), server_version="0.1.0")),
        "hello_control": frame(hello=w.Hello(kind=w.CONNECTION_KIND_CONTROL, mac=b"\x01" * 32,
                                             agent_version="0.1.0", labels={"team": "infra"})),
        "hello_data": frame(hello=w.Hello(kind=w.CONNECTION_KIND_DATA, mac=b"\x02" * 32,
                                          client_id="3f2a9c0d11e4b7a8")),
        "welcome": frame(welcome=w.Welcome(client_id="3f2a9c0d11e4b7a8", session_nonce=b"\x03" * 32,
                                           data_pool_size=4, heartbeat_interval_ms=10000,
                                           idle_timeout_ms=30000)),
        "data_ready": frame(data_ready=w.DataReady()),
        "refused": frame(refused=w.Refused(code=w.REFUSAL_CODE_AUTH_FAILED, reason="bad token")),
        "open_tunnel": frame(open_tunnel=w.OpenTunnel(name="web", remote_port=20080,
                                                      local_addr="127.0.0.1:8080")),
        "tunnel_opened": frame(tunnel_opened=w.TunnelOpened(name="web", tunnel_id="9b1c2d3e",
                                                            remote_port=20080)),
        "tunnel_refused": frame(tunnel_refused=w.TunnelRefused(
            name="web", code=w.REFUSAL_CODE_PORT_IN_USE, reason="port in use")),
        "need_data_conns": frame(need_data_conns=w.NeedDataConns(count=2)),
        "ping": frame(ping=w.Ping(seq=7)),
        "pong": frame(pong=w.Pong(seq=7)),
        "start_relay": frame(start_relay=w.StartRelay(tunnel_id="9b1c2d3e",
                                                      visitor_addr="203.0.113.5:40000",
                                                      public_addr="0.0.0.0:20080")),
        "goodbye": frame(goodbye=w.Goodbye(reason="server shutting down", reconnect=True)),
        "tunnel_closed": frame(tunnel_closed=w.TunnelClosed(name="web", tunnel_id="9b1c2d3e",
                                                            reason="closed by admin")),
    }
    os.makedirs(out, exist_ok=True)
    for name, f in frames.items():
        payload = f.SerializeToString()
        header = b"RT\x01\x00" + len(payload).to_bytes(4, "big")
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(header + payload)
    # Bare payloads (ParsePayload on the whole input) and a header alone.
    with open(os.path.join(out, "payload_hello"), "wb") as fh:
        fh.write(frames["hello_control"].SerializeToString())
    with open(os.path.join(out, "header_only"), "wb") as fh:
        fh.write(b"RT\x01\x00\x00\x00\x00\x10")
