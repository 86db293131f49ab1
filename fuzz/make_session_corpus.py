#!/usr/bin/python3
"""Writes the seed corpora of server_handshake_fuzzer (fuzz/server/) and
client_server_frames_fuzzer (fuzz/client/): a mode byte, then chunks of
[u16 big-endian length][bytes], each chunk usually one wire frame (see the
comments at the top of the two fuzzers). Standard library only; frames are
encoded with the integration harness's protobuf helpers.

    /usr/bin/python3 fuzz/make_session_corpus.py
"""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "tests", "integration"))
import harness as h  # noqa: E402
import wire_agent as wa  # noqa: E402


def chunks(mode, *parts):
    return bytes([mode]) + b"".join(struct.pack(">H", len(p)) + p for p in parts)


def chunk_frame(data):
    return struct.pack(">I", len(data)) + data


MAC = b"\x01" * 32
control_hello = wa.control_hello("x", b"", mac=MAC)
data_hello = wa.data_hello(b"k", b"n", "3f2a9c0d11e4b7a8")
open_web = wa.open_tunnel("web", 0)
open_fixed = wa.open_tunnel("api", 20080)
ping = wa.ping(7)
retire = wa.encode(wa.RETIRE_DATA_CONNS, h.pb_field(1, 3))
pong = wa.encode(wa.PONG, h.pb_field(1, 1))
end = struct.pack(">I", 0)
reset = struct.pack(">I", 0xFFFFFFFF)

server = {
    "raw_garbage": chunks(0, bytes(range(7, 31))),
    "raw_bad_mac": chunks(0, control_hello),
    "raw_data_unknown": chunks(0, data_hello),
    "raw_split_header": chunks(0, control_hello[:3], control_hello[3:]),
    "proven_open_ping": chunks(1, control_hello, open_web, ping, open_fixed),
    "proven_retire_pong": chunks(1, control_hello, retire, pong, open_web, open_web),
    "proven_bad_frame": chunks(1, control_hello, h.frame(b"\x07\xff\xff")),
    "proven_open_bad_name": chunks(1, control_hello, wa.open_tunnel("bad name!", 0)),
    "link_bytes": chunks(2, b"unexpected bytes on an idle link"),
    "link_frame": chunks(2, ping),
    "relay_echo_end": chunks(3, chunk_frame(b"visitor bytes") + end),
    "relay_reset": chunks(3, reset),
    "relay_split": chunks(3, chunk_frame(b"abc")[:2], chunk_frame(b"abc")[2:], end),
    "relay_huge_chunk": chunks(3, struct.pack(">I", 0x7FFFFFFF) + b"x" * 16),
    "relay_then_next": chunks(3, chunk_frame(b"a") + end, ping),
}

welcome = wa.encode(wa.WELCOME, h.pb_field(1, "00112233aabbccdd") + h.pb_field(2, b"\x03" * 32) +
                    h.pb_field(3, 1) + h.pb_field(6, "framed_relay"))
challenge = wa.encode(wa.CHALLENGE, h.pb_field(1, b"\x02" * 32))
opened = wa.encode(wa.TUNNEL_OPENED, h.pb_field(1, "web") + h.pb_field(2, "t1") +
                   h.pb_field(3, 20000))
refused_t = wa.encode(wa.TUNNEL_REFUSED, h.pb_field(1, "web") + h.pb_field(2, 4) +
                      h.pb_field(3, "port in use") + h.pb_field(4, 100))
need = wa.encode(wa.NEED_DATA_CONNS, h.pb_field(1, 1000))
goodbye = wa.encode(wa.GOODBYE, h.pb_field(1, "restart") + h.pb_field(2, 1))
kicked = wa.encode(wa.GOODBYE, h.pb_field(1, "kicked"))
closed = wa.encode(wa.TUNNEL_CLOSED, h.pb_field(1, "web") + h.pb_field(2, "t1") +
                   h.pb_field(3, "by admin"))
refused = wa.encode(wa.REFUSED, h.pb_field(1, 8) + h.pb_field(2, "banned") + h.pb_field(3, 5000))
start = wa.encode(wa.START_RELAY, h.pb_field(1, "t1") + h.pb_field(2, "127.0.0.1:1"))
cluster = wa.encode(16, h.pb_field(1, h.pb_field(1, "r1") + h.pb_field(2, "127.0.0.1:1")))

client = {
    "raw_challenge_welcome": chunks(0, challenge, welcome, opened),
    "raw_refused": chunks(0, challenge, refused),
    "raw_garbage": chunks(0, bytes(range(7, 31))),
    "control_opened_need": chunks(1, opened, need, ping),
    "control_refused_retry": chunks(1, refused_t, opened, closed),
    "control_goodbye": chunks(1, opened, goodbye),
    "control_kicked": chunks(1, opened, kicked),
    "control_cluster": chunks(1, cluster, opened),
    "control_unexpected": chunks(1, welcome, challenge),
    "link_ready_start": chunks(2, wa.encode(wa.DATA_READY), start, chunk_frame(b"hi") + end),
    "link_refused": chunks(2, refused),
    "relay_echo": chunks(3, chunk_frame(b"visitor bytes") + end),
    "relay_reset": chunks(3, reset),
    "relay_two_visitors": chunks(3, chunk_frame(b"a") + end, start, chunk_frame(b"b") + end),
    "relay_huge_chunk": chunks(3, struct.pack(">I", 0x7FFFFFFF) + b"x" * 16),
}

for area, target, seeds in (("server", "server_handshake_fuzzer", server),
                            ("client", "client_server_frames_fuzzer", client)):
    out = os.path.join(here, area, "corpus", target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out}")
