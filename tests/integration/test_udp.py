"""udp: tunnels: datagrams through the tunnel keep their boundaries and
content (checksums), each visitor address is its own flow and gets its own
replies, an idle flow ends and its next datagram starts a new one, and hooks
see flows (OnVisitorConnect can veto one) and datagram counts."""

import hashlib
import json
import os
import socket
import threading

import harness as h
from test_hooks import RECORDING_HOOK, stubs_dir

PY = "/usr/bin/python3"
SIZES = (1, 2, 100, 512, 1400, 1500, 9000, 32768, 65000)


class UdpEcho:
    """Answers each datagram with "<sha256 of it>:" + the datagram."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        big_buffers(self.sock)
        self.sock.bind((h.LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.peers = set()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            self.peers.add(peer)
            reply = hashlib.sha256(data).hexdigest().encode() + b":" + data
            if len(reply) > 65507:
                reply = hashlib.sha256(data).hexdigest().encode() + b":"
            self.sock.sendto(reply, peer)

    def close(self):
        self.sock.close()


def big_buffers(sock):
    """A burst must not overflow the test's own sockets (the product's
    drops are what is under test)."""
    for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):  # 33: Linux
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
            return
        except OSError:
            pass


def visitor(host=h.LOOPBACK):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    big_buffers(s)
    s.bind((host, 0))
    s.settimeout(h.DEFAULT_TIMEOUT)
    return s


def exchange(sock, port, data):
    sock.sendto(data, (h.LOOPBACK, port))
    reply, _ = sock.recvfrom(65535)
    return reply


class UdpTest(h.IntegrationTest):
    def start_udp_echo(self):
        e = UdpEcho()
        self.addCleanup(e.close)
        return e

    def start_hook(self, *args):
        p = self.spawn(h.Proc, "hook", [PY, RECORDING_HOOK, f"--listen={h.LOOPBACK}:0", *args],
                       env={"REITUNNEL_HOOK_STUBS": stubs_dir(), "PYTHONDONTWRITEBYTECODE": "1"})
        p.port = p.wait_for_event("listening")["port"]
        return p

    def open_udp_tunnel(self, server, echo, name="dns"):
        agent = self.start_agent(server, [f"{name}=udp:0:{h.LOOPBACK}:{echo.port}"],
                                 wait_open=False)
        return agent, agent.tunnel_port(name)

    def test_datagrams_keep_their_boundaries_and_content(self):
        server = self.start_server()
        echo = self.start_udp_echo()
        _, port = self.open_udp_tunnel(server, echo)
        s = visitor()
        self.addCleanup(s.close)
        for size in SIZES:
            with self.subTest(size=size):
                data = os.urandom(size)
                reply = exchange(s, port, data)
                digest, _, body = reply.partition(b":")
                self.assertEqual(digest.decode(), hashlib.sha256(data).hexdigest())
                if size < 65000:
                    self.assertEqual(body, data)  # one datagram each way, whole
        # A burst without waiting: every datagram arrives whole, and in order
        # (one flow is one TCP link). Loopback does not lose them; the
        # server's per-flow queue holds 512.
        burst = [os.urandom(64 + i) for i in range(100)]
        for d in burst:
            s.sendto(d, (h.LOOPBACK, port))
        got = [s.recvfrom(65535)[0].partition(b":")[2] for _ in burst]
        self.assertEqual(got, burst)
        # The service saw one peer: the agent's socket of this one flow.
        self.assertEqual(len(echo.peers), 1)

    def test_each_visitor_address_is_its_own_flow(self):
        server = self.start_server()
        echo = self.start_udp_echo()
        _, port = self.open_udp_tunnel(server, echo)
        socks = [visitor(f"127.0.0.{i}") for i in range(2, 10)]
        for s in socks:
            self.addCleanup(s.close)
        errors = []

        def run(i, s):
            try:
                for n in range(20):
                    data = f"visitor {i} datagram {n} ".encode() * (n + 1)
                    body = exchange(s, port, data).partition(b":")[2]
                    if body != data:
                        errors.append((i, n, body[:40]))
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append((i, repr(e)))
        threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(socks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(h.DEFAULT_TIMEOUT * 2)
        self.assertEqual(errors, [])
        self.assertEqual(len(echo.peers), len(socks))  # a local socket per flow

        r = h.run_ctl(server.admin_addr, self.token, "tunnels", "list", "-o", "json")
        self.assertEqual(r.rc, 0, str(r))
        doc = json.loads(r.out)
        (t,) = doc.get("tunnels", doc) if isinstance(doc, dict) else doc
        self.assertEqual(t["kind"], "udp")
        self.assertEqual(int(t.get("active_visitors", 0)), len(socks))

    def test_idle_flows_end_and_come_back(self):
        hook = self.start_hook()
        server = self.start_server(config={
            "timeouts": {"udp_flow_idle_ms": 300},
            "hooks": [{"name": "h", "address": f"{h.LOOPBACK}:{hook.port}",
                       "events": ["visitor_connect", "visitor_disconnect", "data"],
                       "failure_policy": "fail_closed"}],
            "hook_settings": {"startup_wait_ms": 3000}})
        echo = self.start_udp_echo()
        _, port = self.open_udp_tunnel(server, echo)
        s = visitor()
        self.addCleanup(s.close)
        self.assertTrue(exchange(s, port, b"one").endswith(b":one"))
        self.assertTrue(exchange(s, port, b"two").endswith(b":two"))
        connected = hook.wait_for_event("visitor_connect")
        addr = f"{h.LOOPBACK}:{s.getsockname()[1]}"
        self.assertEqual(connected["req"]["visitor_addr"], addr)
        closed = hook.wait_for_event("visitor_disconnect")  # idle for 300 ms
        md = closed["req"]["metadata"]
        self.assertEqual(md.get("datagrams_received"), "2", md)
        self.assertEqual(md.get("datagrams_sent"), "2", md)
        self.assertEqual(int(closed["req"].get("bytes_received", 0)), 6)
        # The next datagram from the same address is a new flow.
        self.assertTrue(exchange(s, port, b"three").endswith(b":three"))
        h.wait_until(lambda: len(hook.find_events("visitor_connect")) == 2,
                     what="a second visitor_connect")
        # Data batches count datagrams as events.
        h.wait_until(lambda: sum(int(t.get("received_events", 0))
                                 for b in hook.find_events("data_batch")
                                 for t in b["req"].get("tunnels", [])) == 3,
                     what="three datagrams in data batches")

    def test_a_vetoed_flow_gets_nothing(self):
        hook = self.start_hook("--deny-visitors")
        server = self.start_server(config={
            "hooks": [{"name": "h", "address": f"{h.LOOPBACK}:{hook.port}",
                       "events": ["visitor_connect"], "failure_policy": "fail_closed"}],
            "hook_settings": {"startup_wait_ms": 3000}})
        echo = self.start_udp_echo()
        _, port = self.open_udp_tunnel(server, echo)
        s = visitor()
        self.addCleanup(s.close)
        s.sendto(b"hello", (h.LOOPBACK, port))
        hook.wait_for_event("visitor_connect")
        # The denial is remembered for the flow's idle time: more datagrams
        # from that address cost no further hook call.
        for _ in range(5):
            s.sendto(b"again", (h.LOOPBACK, port))
        s.settimeout(1.0)
        with self.assertRaises(socket.timeout):
            s.recvfrom(65535)
        self.assertEqual(echo.peers, set())
        self.assertEqual(hook.count_events("visitor_connect"), 1)
