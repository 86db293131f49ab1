"""Bad input on the agent port never crashes the server or disturbs other
tunnels; each bad connection is closed and logged."""

import os
import socket
import struct
import threading
import time
import unittest

import harness as h

# Handshake timeout for the "garbage" server: long enough that a close caused
# by the garbage itself is clearly distinguishable from the timeout.
GARBAGE_HANDSHAKE_MS = 4000
# Closing on a bad frame must take well under the handshake timeout.
GARBAGE_CLOSE_MAX_S = 3.0


def frame_hello_bad_mac():
    hello = h.pb_field(1, 1) + h.pb_field(2, b"\x00" * 32) + h.pb_field(4, "evil/0")
    return h.frame(h.pb_field(2, hello))


BAD_INPUTS = {
    # name: (bytes, half_close_after_send)
    "garbage": (os.urandom(64), False),
    "http_request": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "wrong_magic": (b"XX\x01\x00" + struct.pack(">I", 5) + b"hello", False),
    "wrong_version": (h.frame_header(5, version=2) + b"hello", False),
    "version_zero": (h.frame_header(5, version=0) + b"hello", False),
    "reserved_nonzero": (h.frame_header(5, reserved=7) + b"hello", False),
    "huge_length": (h.frame_header(0xFFFFFFF0), False),
    "length_just_over_max": (h.frame_header(h.MAX_PAYLOAD + 1), False),
    "max_length_garbage_payload": (h.frame_header(h.MAX_PAYLOAD) +
                                   b"\xff" * h.MAX_PAYLOAD, False),
    "garbage_protobuf": (h.frame(b"\x07\xff\xff\xff\xff\xff\xff"), False),
    "truncated_protobuf": (h.frame(b"\x12\x40\x08\x01"), False),
    "empty_frame": (h.frame(b""), False),
    "wrong_first_message_ping": (h.frame(h.pb_field(10, h.pb_field(1, 1))), False),
    "server_only_message_welcome": (h.frame(h.pb_field(3, h.pb_field(1, "x"))), False),
    "hello_bad_mac": (frame_hello_bad_mac(), False),
    "hello_data_kind_unknown_client": (
        h.frame(h.pb_field(2, h.pb_field(1, 2) + h.pb_field(2, b"\x01" * 32) +
                           h.pb_field(3, "no-such-client"))), False),
    "truncated_header_then_eof": (b"RT\x01\x00\x00", True),
    "truncated_payload_then_eof": (h.frame_header(100) + b"\x0a\x05", True),
}


class BadInputTest(h.IntegrationTest):
    def setUp(self):
        super().setUp()
        # Debug: every rejection is logged with its peer (at info they are
        # aggregated per source, see test_flood).
        self.server, self.agent, self.echo, self.port = self.setup_tunnel(
            config={"timeouts": {"handshake_ms": GARBAGE_HANDSHAKE_MS}, "log": {"level": "debug"}})

    def _check_challenge(self, sock):
        (magic, version, reserved, length), payload = h.read_frame(sock, timeout=10)
        self.assertEqual(magic, h.MAGIC)
        self.assertEqual(version, h.WIRE_VERSION)
        self.assertEqual(reserved, 0)
        fields = h.pb_decode(payload)
        self.assertEqual([f[0] for f in fields], [1], f"first frame is not a Challenge: {fields}")
        challenge = dict((n, v) for n, _, v in h.pb_decode(fields[0][2]))
        self.assertEqual(len(challenge.get(1, b"")), 32, "Challenge nonce is not 32 bytes")
        return challenge[1]

    def _send_bad(self, name, data, half_close):
        s = self.raw_socket(self.server.agent_port)
        local = "%s:%d" % s.getsockname()
        self._check_challenge(s)
        start = time.monotonic()
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may already have reset us: that is fine
        rest, how = h.recv_until_eof(s, timeout=20, limit=64 * 1024)
        elapsed = time.monotonic() - start
        s.close()
        return local, elapsed, rest, how

    def test_each_bad_input_closed_and_tunnel_unaffected(self):
        h.assert_tunnel_works(self, self.port)
        for name, (data, half_close) in BAD_INPUTS.items():
            with self.subTest(name):
                mark = self.server.event_mark()
                local, elapsed, rest, how = self._send_bad(name, data, half_close)
                self.assertLess(elapsed, GARBAGE_CLOSE_MAX_S,
                                f"{name}: server took {elapsed:.2f}s to close (looks like the "
                                f"handshake timeout, not a rejection)")
                # Anything sent back must be well-formed frames (e.g. Refused).
                self.assertLessEqual(len(rest), 1024, f"{name}: server sent {len(rest)} bytes")
                self.assert_alive(self.server)
                self.server.wait_for_event("connection_rejected",
                                           lambda e, a=local: e.get("remote_addr") == a,
                                           since=mark, timeout=10)
                h.assert_tunnel_works(self, self.port)
        self.assert_alive(self.agent)
        self.assertEqual(self.agent.count_events("disconnected"), 0,
                         "the real agent was disconnected by someone else's bad input")

    def test_refused_frame_for_bad_mac_is_well_formed(self):
        local, elapsed, rest, how = self._send_bad("hello_bad_mac", frame_hello_bad_mac(), False)
        # The server may answer Refused{AUTH_FAILED} before closing; if it
        # does, the frame must be valid.
        if rest:
            self.assertEqual(rest[:4], b"RT\x01\x00")
            length = struct.unpack(">I", rest[4:8])[0]
            self.assertEqual(len(rest), 8 + length, "trailing bytes after Refused")
            fields = h.pb_decode(rest[8:])
            self.assertEqual(fields[0][0], 5, f"not a Refused frame: {fields}")
            refused = dict((n, v) for n, _, v in h.pb_decode(fields[0][2]))
            self.assertEqual(refused.get(1), 1, f"Refused code is not AUTH_FAILED: {refused}")
        h.assert_tunnel_works(self, self.port)

    def test_nonces_are_fresh(self):
        nonces = set()
        for _ in range(5):
            s = self.raw_socket(self.server.agent_port)
            nonces.add(self._check_challenge(s))
            s.close()
        self.assertEqual(len(nonces), 5, "Challenge nonce repeated across connections")

    def test_connect_and_close_immediately(self):
        for _ in range(20):
            s = h.connect(self.server.agent_port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # RST
            s = h.connect(self.server.agent_port)
            s.close()  # FIN
        self.assert_alive(self.server)
        h.assert_tunnel_works(self, self.port)

    def test_concurrent_garbage_storm(self):
        n = 100
        results = []
        lock = threading.Lock()

        def one(i):
            name, (data, half) = list(BAD_INPUTS.items())[i % len(BAD_INPUTS)]
            try:
                s = h.connect(self.server.agent_port, timeout=30)
                try:
                    s.sendall(data)
                    if half:
                        s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                _, how = h.recv_until_eof(s, timeout=30, limit=64 * 1024)
                s.close()
                r = "closed"
            except Exception as e:  # noqa: BLE001
                r = f"{name}: {e!r}"
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        h.assert_tunnel_works(self, self.port)  # relaying while under attack
        for t in threads:
            t.join(60)
        bad = [r for r in results if r != "closed"]
        self.assertEqual(bad[:5], [], f"{len(bad)} garbage connections were not closed")
        self.assertEqual(len(results), n)
        self.assert_alive(self.server)
        h.assert_tunnel_works(self, self.port, size=1024 * 1024)

    def test_garbage_on_public_port_goes_to_service_verbatim(self):
        # The public port relays raw bytes: "bad frames" there are just data.
        data = h.frame_header(0xFFFFFFF0) + os.urandom(1000)
        self.assertEqual(h.echo_roundtrip(self.port, data), data)


    def test_no_fd_leak_after_bad_input_and_visitors(self):
        h.assert_tunnel_works(self, self.port)
        base = h.proc_fd_count(self.server.pid)
        for round_ in range(3):
            for name, (data, half) in BAD_INPUTS.items():
                s = h.connect(self.server.agent_port)
                try:
                    s.sendall(data)
                    if half:
                        s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                h.recv_until_eof(s, timeout=20, limit=64 * 1024)
                s.close()
            for _ in range(30):
                self.assertTrue(h.tunnel_works(self.port, size=1024))
        # Slack: the agent's idle data-connection pool may be refilling.
        slack = 8
        h.wait_until(lambda: h.proc_fd_count(self.server.pid) <= base + slack, 20,
                     f"server fd count to return to <= {base} + {slack} "
                     f"(now {h.proc_fd_count(self.server.pid)})")


class HandshakeTimeoutTest(h.IntegrationTest):
    HANDSHAKE_MS = 500

    def setUp(self):
        super().setUp()
        self.server, self.agent, self.echo, self.port = self.setup_tunnel(
            config={"timeouts": {"handshake_ms": self.HANDSHAKE_MS}, "log": {"level": "debug"}})

    def _silent_connection(self, send=b""):
        mark = self.server.event_mark()
        s = self.raw_socket(self.server.agent_port)
        start = time.monotonic()
        local = "%s:%d" % s.getsockname()
        if send:
            s.sendall(send)
        data, how = h.recv_until_eof(s, timeout=20)
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.3,
                                f"closed after {elapsed:.3f}s: before the handshake timeout")
        self.assertLessEqual(elapsed, self.HANDSHAKE_MS / 1000 + 2.5,
                             f"closed after {elapsed:.3f}s: handshake timeout not applied")
        # Only the Challenge (and possibly a Refused frame) may have come back.
        self.assertEqual(data[:2], b"RT", f"unexpected bytes from server: {data[:16]!r}")
        self.assertLessEqual(len(data), 1024)
        ev = self.server.wait_for_event("connection_rejected",
                                        lambda e: e.get("remote_addr") == local, since=mark,
                                        timeout=10)
        self.assertTrue(ev.get("reason"), f"connection_rejected without a reason: {ev}")
        self.assert_alive(self.server)
        h.assert_tunnel_works(self, self.port)

    def test_sends_nothing(self):
        self._silent_connection()

    def test_sends_three_bytes(self):
        self._silent_connection(b"RT\x01")

    def test_sends_header_but_not_payload(self):
        self._silent_connection(h.frame_header(200) + b"\x12")

    def test_many_slow_handshakes_do_not_block_agents(self):
        socks = [self.raw_socket(self.server.agent_port) for _ in range(50)]
        # A new agent handshakes fine while 50 slowloris connections are open.
        _, agent2, _, port2 = self.setup_tunnel(server=self.server, echo=self.echo,
                                                name="second")
        h.assert_tunnel_works(self, port2)
        for s in socks:
            data, how = h.recv_until_eof(s, timeout=20)
        self.assert_alive(self.server)
        h.assert_tunnel_works(self, self.port)


if __name__ == "__main__":
    unittest.main()
