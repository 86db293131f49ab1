"""Graceful shutdown of both binaries, and the admin health endpoint."""

import os
import signal
import socket
import time
import unittest

import harness as h

DRAIN_MS = 3000


def wait_turned_away(port, timeout=10):
    """Polls until new visitors on `port` are refused, or accepted and closed
    without being relayed."""

    def turned_away():
        try:
            c = socket.create_connection((h.LOOPBACK, port), timeout=2)
        except ConnectionRefusedError:
            return True
        try:
            # A probe that raced the signal may legitimately be served as a
            # visitor; it half-closes so it finishes at once either way.
            c.sendall(b"new")
            c.shutdown(socket.SHUT_WR)
            data, how = h.recv_until_eof(c, timeout=5)
            return data == b""
        except (OSError, AssertionError):
            return False
        finally:
            c.close()

    h.wait_until(turned_away, timeout, f"public port {port} to stop serving new visitors")


class ServerShutdownTest(h.IntegrationTest):
    def _sigterm_idle(self, sig):
        server, agent, echo, port = self.setup_tunnel(
            config={"timeouts": {"drain_ms": DRAIN_MS}})
        h.assert_tunnel_works(self, port)
        mark = agent.event_mark()
        start = time.monotonic()
        server.signal(sig)
        rc = server.wait_exit(DRAIN_MS / 1000 + 15)
        elapsed = time.monotonic() - start
        self.assertEqual(rc, 0, f"server exit code on {sig.name}\n{server.describe()}")
        self.assertLess(elapsed, DRAIN_MS / 1000 + 10)
        self.assertEqual(server.count_events("shutdown_complete"), 1,
                         f"shutdown_complete not logged exactly once\n{server.describe()}")
        # Every port is released.
        self.assertTrue(h.can_bind(port), f"public port {port} still bound after exit")
        self.assertTrue(h.can_bind(server.agent_port), "agent port still bound after exit")
        self.assertTrue(h.can_bind(server.admin_port), "admin port still bound after exit")
        # The agent noticed and is trying to come back (it does not exit).
        agent.wait_for_event("disconnected", since=mark)
        agent.wait_for_event("reconnecting", since=mark)
        self.assert_alive(agent)
        # Session accounting was logged before the end.
        server.wait_for_event("tunnel_closed")
        server.wait_for_event("agent_disconnected")
        return elapsed

    def test_sigterm_idle_tunnel(self):
        elapsed = self._sigterm_idle(signal.SIGTERM)
        # With no visitor there is nothing to drain.
        self.assertLess(elapsed, DRAIN_MS / 1000,
                        f"idle server waited {elapsed:.2f}s (the full drain) before exiting")

    def test_sigint_idle_tunnel(self):
        self._sigterm_idle(signal.SIGINT)

    def test_sigterm_drains_active_visitor(self):
        server, agent, echo, port = self.setup_tunnel(
            config={"timeouts": {"drain_ms": DRAIN_MS}})
        s = h.connect(port)
        self.addCleanup(s.close)
        s.sendall(b"before")
        self.assertEqual(h.recv_exactly(s, 6), b"before")
        server.terminate()
        # New visitors are turned away promptly...
        wait_turned_away(port)
        # ...while the in-flight visitor can finish its exchange.
        payload = os.urandom(256 * 1024)
        s.sendall(payload)
        self.assertTrue(h.recv_exactly(s, len(payload)) == payload,
                        "in-flight visitor broken during drain")
        s.shutdown(socket.SHUT_WR)
        data, how = h.recv_until_eof(s, timeout=DRAIN_MS / 1000 + 10)
        self.assertEqual((data, how), (b"", "eof"))
        self.assertEqual(server.wait_exit(DRAIN_MS / 1000 + 15), 0, server.describe())
        server.wait_for_event("shutdown_complete")

    def test_drain_deadline_closes_stuck_visitor(self):
        server, agent, echo, port = self.setup_tunnel(
            config={"timeouts": {"drain_ms": 1000}})
        s = h.connect(port)
        self.addCleanup(s.close)
        s.sendall(b"x")
        self.assertEqual(h.recv_exactly(s, 1), b"x")
        start = time.monotonic()
        server.terminate()
        # The visitor never finishes: the server closes it after drain_ms.
        data, how = h.recv_until_eof(s, timeout=15)
        self.assertGreaterEqual(time.monotonic() - start, 0.5,
                                "visitor cut before the drain period")
        self.assertEqual(server.wait_exit(15), 0, server.describe())
        self.assertLess(time.monotonic() - start, 1.0 + 10)
        server.wait_for_event("shutdown_complete")

    def test_second_signal_skips_drain(self):
        server, agent, echo, port = self.setup_tunnel(
            config={"timeouts": {"drain_ms": 20000}})
        s = h.connect(port)
        self.addCleanup(s.close)
        s.sendall(b"x")
        self.assertEqual(h.recv_exactly(s, 1), b"x")
        server.terminate()
        wait_turned_away(port)  # the first signal has been handled
        start = time.monotonic()
        server.terminate()
        self.assertEqual(server.wait_exit(10), 0, server.describe())
        self.assertLess(time.monotonic() - start, 10)
        data, how = h.recv_until_eof(s, timeout=10)
        self.assertEqual(data, b"")

    def test_sigterm_server_and_agent_at_once(self):
        # What `docker compose down` / a node drain does: both get SIGTERM at
        # the same moment. Repeated because the interesting part is a race.
        echo = self.start_echo()
        for i in range(10):
            with self.subTest(round=i):
                server = self.start_server(config={"timeouts": {"drain_ms": DRAIN_MS}},
                                           name=f"server{i}")
                agent = self.start_agent(server, [("web", 0, echo.port)], name=f"agent{i}")
                h.assert_tunnel_works(self, agent.remote_ports["web"], size=1024)
                server.terminate()
                agent.terminate()
                self.assertEqual(agent.wait_exit(DRAIN_MS / 1000 + 10), 0, agent.describe())
                self.assertEqual(server.wait_exit(DRAIN_MS / 1000 + 10), 0, server.describe())
                server.wait_for_event("shutdown_complete")


class AgentShutdownTest(h.IntegrationTest):
    def test_agent_sigterm_and_sigint_exit_0(self):
        server = self.start_server()
        echo = self.start_echo()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig.name):
                agent = self.start_agent(server, [("web", 0, echo.port)],
                                         name=f"agent-{sig.name}")
                port = agent.remote_ports["web"]
                h.assert_tunnel_works(self, port)
                agent.signal(sig)
                self.assertEqual(agent.wait_exit(20), 0, agent.describe())
                server.wait_for_event("agent_disconnected",
                                      lambda e, c=agent.client_id: e.get("client_id") == c)
                h.wait_until(lambda: h.can_bind(port), 20, f"port {port} released")
        self.assert_alive(server)

    def test_agent_sigterm_while_reconnecting_exit_0(self):
        agent = self.start_agent(None, [("web", 0, 9)], wait_open=False,
                                 server_addr=f"{h.LOOPBACK}:{h.unused_port()}")
        agent.wait_for_event("reconnecting")
        agent.terminate()
        self.assertEqual(agent.wait_exit(20), 0, agent.describe())


class HealthTest(h.IntegrationTest):
    def test_admin_health_serving(self):
        server = self.start_server()
        self.assertEqual(h.grpc_health_status(server.admin_addr), 1,
                         "admin port did not answer SERVING")

    def test_admin_health_unknown_service(self):
        server = self.start_server()
        try:
            import grpc  # noqa: PLC0415
        except ImportError as e:
            raise unittest.SkipTest(str(e))
        with self.assertRaises(grpc.RpcError) as cm:
            h.grpc_health_status(server.admin_addr, service="no.such.Service")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main()
