"""The server's WebSocket agent listener against bad input: failed upgrades
and malformed RFC 6455 frames are answered (HTTP status or a close frame
with a protocol-error code) and the connection closed, while a real agent
on the same listener keeps relaying. Runs on every link run; the listener
is started explicitly here."""

import base64
import hashlib
import os
import socket
import struct
import time

import harness as h

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(opcode, payload=b"", *, fin=True, rsv=0, mask=True, length=None):
    """Encodes one frame; `length` overrides the announced payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_server_frame(sock, deadline):
    """Reads one unmasked server frame: (opcode, payload), or None at EOF."""
    def exactly(n):
        buf = b""
        while len(buf) < n:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    head = exactly(2)
    if head is None:
        return None
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exactly(8))[0]
    payload = exactly(n) if n else b""
    return opcode, payload


class WebSocketListenerTest(h.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.server = self.start_server(extra_args=[f"--ws-listen={h.LOOPBACK}:0"]
                                        if not self.link.websocket else [])
        if self.server.ws_port is None:
            ev = self.server.wait_for_event("ws_listener_ready")
            self.server.ws_port = h.parse_addr(ev["addr"])[1]
        self.tls = self.link.tls and self.link.via != "nginx"

    def connect_ws_listener(self):
        sock = self.raw_socket(self.server.ws_port)
        if self.tls:
            import ssl
            ctx = ssl.create_default_context(cafile=self.link_ca())
            sock = ctx.wrap_socket(sock, server_hostname=h.LOOPBACK)
            self.addCleanup(sock.close)
        return sock

    def link_ca(self):
        import agent_link
        return agent_link.test_pki()("ca.pem")

    def upgrade(self, path="/reitunnel"):
        """Sends an upgrade request; returns (socket, status code, head)."""
        sock = self.connect_ws_listener()
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        deadline = time.monotonic() + h.DEFAULT_TIMEOUT
        while b"\r\n\r\n" not in head:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
        if status == 101:
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
            self.assertIn(b"Sec-WebSocket-Accept: " + accept, head)
        return sock, status, head

    def assert_closed_with(self, sock, codes, what):
        """The server answers with a close frame carrying one of `codes`
        (then EOF), or, at the least, closes the connection."""
        deadline = time.monotonic() + h.DEFAULT_TIMEOUT
        close_code = None
        while True:
            try:
                frame = read_server_frame(sock, deadline)
            except (ConnectionResetError, BrokenPipeError):
                frame = None
            except socket.timeout:
                self.fail(f"{what}: the server kept the connection open")
            if frame is None:
                break
            opcode, payload = frame
            if opcode == 0x8:
                close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        self.assertIn(close_code, codes, f"{what}: close code")

    def assert_relay_still_works(self):
        echo = self.start_echo()
        agent = self.start_agent(self.server, [("web", 0, echo.port)],
                                 server_addr=self.agent_address(self.server)
                                 if self.link.websocket else
                                 f"ws://{h.LOOPBACK}:{self.server.ws_port}/reitunnel")
        h.assert_tunnel_works(self, agent.remote_ports["web"])
        self.assert_alive(self.server)

    def test_failed_upgrades_get_an_http_status(self):
        sock, status, head = self.upgrade(path="/other")
        self.assertEqual(status, 404, head)
        h.recv_until_eof(sock)  # and then the server closes
        # A version other than 13: 426 naming the one it speaks.
        sock = self.connect_ws_listener()
        sock.sendall(b"GET /reitunnel HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: "
                     + base64.b64encode(os.urandom(16)) + b"\r\nSec-WebSocket-Version: 8\r\n\r\n")
        data = h.recv_until_eof(sock)[0]
        self.assertTrue(data.startswith(b"HTTP/1.1 426"), data[:200])
        self.assertIn(b"Sec-WebSocket-Version: 13", data)
        # Not a WebSocket request at all.
        sock = self.connect_ws_listener()
        sock.sendall(b"GET /reitunnel HTTP/1.1\r\nHost: x\r\n\r\n")
        data = h.recv_until_eof(sock)[0]
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        # Not HTTP.
        sock = self.connect_ws_listener()
        sock.sendall(b"\x16\x03\x01\x00\x05hello\r\n\r\n")
        data = h.recv_until_eof(sock)[0]
        self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 400"), data[:200])
        self.assert_relay_still_works()

    def test_malformed_frames_are_rejected_with_a_protocol_error(self):
        PROTOCOL_ERROR, TOO_BIG = 1002, 1009
        cases = [
            ("unmasked client frame", ws_frame(0x2, b"abc", mask=False), {PROTOCOL_ERROR}),
            ("reserved bits set", ws_frame(0x2, b"abc", rsv=0b100), {PROTOCOL_ERROR}),
            ("reserved opcode", ws_frame(0x3, b"abc"), {PROTOCOL_ERROR}),
            ("fragmented ping", ws_frame(0x9, b"p", fin=False), {PROTOCOL_ERROR}),
            ("control frame over 125 bytes", ws_frame(0x9, b"p" * 126), {PROTOCOL_ERROR}),
            ("continuation with nothing to continue", ws_frame(0x0, b"abc"), {PROTOCOL_ERROR}),
            ("text frame (the link is binary)", ws_frame(0x1, b"hello"),
             {PROTOCOL_ERROR, 1003, 1007}),
            ("a 2^62-byte frame announced", ws_frame(0x2, b"", length=1 << 62),
             {TOO_BIG, PROTOCOL_ERROR}),
            ("a new data frame inside a fragmented message",
             ws_frame(0x2, b"a", fin=False) + ws_frame(0x2, b"b"), {PROTOCOL_ERROR}),
        ]
        for what, frames, codes in cases:
            with self.subTest(what):
                sock, status, head = self.upgrade()
                self.assertEqual(status, 101, head)
                sock.sendall(frames)
                self.assert_closed_with(sock, codes, what)
        self.assert_relay_still_works()

    def test_garbage_after_a_valid_upgrade_does_not_reach_the_handshake(self):
        # A well-formed binary message whose content is not the link's
        # handshake: the session code refuses it like garbage on TCP.
        sock, status, head = self.upgrade()
        self.assertEqual(status, 101, head)
        sock.sendall(ws_frame(0x2, b"\xff" * 64))
        deadline = time.monotonic() + h.DEFAULT_TIMEOUT
        while True:
            try:
                frame = read_server_frame(sock, deadline)
            except (ConnectionResetError, BrokenPipeError):
                break
            except socket.timeout:
                self.fail("the server kept a connection that sent garbage open")
            if frame is None or frame[0] == 0x8:
                break
        self.assert_relay_still_works()
