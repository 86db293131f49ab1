"""Recovery: agent restart, server restart, dead peers, half-open sessions."""

import os
import signal
import time
import unittest

import harness as h


class AgentRecoveryTest(h.IntegrationTest):
    def test_agent_kill9_then_restart_gets_same_port(self):
        server, agent, echo, port = self.setup_tunnel()
        h.assert_tunnel_works(self, port)
        old_client = agent.client_id
        old_tunnel = server.wait_for_event("tunnel_open")["tunnel_id"]

        agent.kill()  # SIGKILL: no goodbye, the server only sees the TCP close
        # Immediately start a replacement asking for the SAME port; it may race
        # the server noticing the old session is gone (PORT_IN_USE, retried).
        agent2 = self.start_agent(server, [("web", port, echo.port)], wait_open=False,
                                  name="agent2")
        self.assertEqual(agent2.tunnel_port("web"), port)
        h.wait_tunnel_works(port)
        h.assert_tunnel_works(self, port, size=1024 * 1024)

        # The server accounted for the old session.
        server.wait_for_event("agent_disconnected",
                              lambda e: e.get("client_id") == old_client)
        server.wait_for_event("tunnel_closed", lambda e: e.get("tunnel_id") == old_tunnel)
        self.assertEqual(agent2.count_events("tunnel_refused",
                                             lambda e: "IN_USE" not in str(e.get("code"))
                                             and str(e.get("code")) != "4"), 0,
                         "replacement agent got a refusal other than PORT_IN_USE")

    def test_agent_kill9_closes_active_visitor(self):
        server, agent, echo, port = self.setup_tunnel()
        s = h.connect(port)
        self.addCleanup(s.close)
        s.sendall(b"ping")
        self.assertEqual(h.recv_exactly(s, 4), b"ping")
        agent.kill()
        data, how = h.recv_until_eof(s, timeout=20)
        self.assertEqual(data, b"")
        self.assert_alive(server)
        # The public port is released once the agent is gone.
        h.wait_until(lambda: h.can_bind(port), 20, f"public port {port} to be released")

    def test_agent_sigterm_releases_port_and_logs(self):
        server, agent, echo, port = self.setup_tunnel()
        client_id = agent.client_id
        agent.terminate()
        self.assert_exits(agent, 0)
        ev = server.wait_for_event("agent_disconnected",
                                   lambda e: e.get("client_id") == client_id)
        self.assertTrue(ev.get("reason"), f"agent_disconnected without a reason: {ev}")
        h.wait_until(lambda: h.can_bind(port), 20, f"public port {port} to be released")


class ServerRecoveryTest(h.IntegrationTest):
    def _restart(self, server, ports, how):
        agent_port = server.agent_port
        if how == "kill":
            server.kill()
        else:
            server.terminate()
            self.assert_exits(server, 0)
        return self.start_server(ports=ports, listen=f"{h.LOOPBACK}:{agent_port}",
                                 ws_port=server.ws_port or 0, name="server2")

    def test_server_kill9_restart_agent_restores_fixed_port(self):
        ports = self.port_range()
        fixed = ports.low + 3
        echo = self.start_echo()
        server = self.start_server(ports=ports)
        agent = self.start_agent(server, [("web", fixed, echo.port)])
        self.assertEqual(agent.remote_ports["web"], fixed)
        h.assert_tunnel_works(self, fixed)

        mark = agent.event_mark()
        server2 = self._restart(server, ports, "kill")
        agent.wait_for_event("disconnected", since=mark)
        # Nobody touches the agent: it reconnects and restores its tunnel.
        h.wait_tunnel_works(fixed, timeout=45,
                            what=f"restored tunnel on port {fixed} after server restart")
        server2.wait_for_event("agent_connected")
        server2.wait_for_event("tunnel_open", lambda e: int(e.get("remote_port", -1)) == fixed)
        self.assert_alive(agent)

    def test_server_sigterm_restart_agent_restores_auto_port(self):
        server, agent, echo, port = self.setup_tunnel()
        ports = server.port_range
        mark = agent.event_mark()
        server2 = self._restart(server, ports, "term")
        agent.wait_for_event("disconnected", since=mark)
        new_port = agent.tunnel_port("web", timeout=45, since=mark)
        self.assertIn(new_port, ports)
        h.wait_tunnel_works(new_port)
        h.assert_tunnel_works(self, new_port, size=1024 * 1024)
        server2.wait_for_event("agent_connected")

    def test_agent_started_before_server_connects_when_it_appears(self):
        ports = self.port_range()
        agent_port, ws_port = h.unused_port(), h.unused_port()
        echo = self.start_echo()
        agent = self.start_agent(None, [("web", ports.low, echo.port)], wait_open=False,
                                 server_addr=self.agent_address(agent_port=agent_port,
                                                                ws_port=ws_port))
        agent.wait_for_event("reconnecting")
        self.assert_alive(agent)
        self.start_server(ports=ports, listen=f"{h.LOOPBACK}:{agent_port}", ws_port=ws_port)
        self.assertEqual(agent.tunnel_port("web", timeout=60), ports.low)
        h.wait_tunnel_works(ports.low)


class HalfOpenTest(h.IntegrationTest):
    """Frozen peers (SIGSTOP) must be detected through heartbeats/idle timeout."""

    TIMEOUTS = {"timeouts": {"heartbeat_interval_ms": 300, "idle_ms": 1500}}

    def test_heartbeats_keep_idle_session_alive(self):
        server, agent, echo, port = self.setup_tunnel(config=self.TIMEOUTS)
        # Observation window (inherent to the property): 3x idle_ms with no
        # traffic must not drop the session.
        end = time.monotonic() + 4.5
        while time.monotonic() < end:
            self.assertEqual(server.count_events("agent_disconnected"), 0,
                             "idle session was dropped despite heartbeats")
            self.assertEqual(agent.count_events("disconnected"), 0)
            time.sleep(0.1)
        h.assert_tunnel_works(self, port)

    def test_frozen_agent_is_dropped_and_recovers(self):
        server, agent, echo, port = self.setup_tunnel(config=self.TIMEOUTS)
        client_id = agent.client_id
        agent.signal(signal.SIGSTOP)
        self.addCleanup(agent.signal, signal.SIGCONT)
        start = time.monotonic()
        ev = server.wait_for_event("agent_disconnected",
                                   lambda e: e.get("client_id") == client_id, timeout=20)
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 0.5, f"dropped too early ({elapsed:.2f}s): {ev}")
        h.wait_until(lambda: h.can_bind(port), 20, f"public port {port} to be released")

        mark = agent.event_mark()
        agent.signal(signal.SIGCONT)
        new_port = agent.tunnel_port("web", timeout=45, since=mark)
        h.wait_tunnel_works(new_port)

    def test_frozen_server_is_detected_by_agent(self):
        server, agent, echo, port = self.setup_tunnel(config=self.TIMEOUTS)
        mark = agent.event_mark()
        server.signal(signal.SIGSTOP)
        self.addCleanup(server.signal, signal.SIGCONT)
        agent.wait_for_event("disconnected", since=mark, timeout=20)
        agent.wait_for_event("reconnecting", since=mark, timeout=20)
        server.signal(signal.SIGCONT)
        new_port = agent.tunnel_port("web", timeout=60, since=mark)
        h.wait_tunnel_works(new_port)


class ProxyRestartTest(h.IntegrationTest):
    """Links through a proxy (REITUNNEL_TEST_LINK=*-tinyproxy, *-nginx): the
    proxy dies with the control and data links through it, and the agent
    comes back through the restarted proxy by itself."""

    def test_proxy_restart_agent_reconnects_through_it(self):
        if self.link.via is None:
            self.skipTest(f"link {self.link.name} has no proxy in between")
        server, agent, echo, port = self.setup_tunnel()
        h.assert_tunnel_works(self, port, size=1024 * 1024)
        client_id = agent.client_id
        mark, smark = agent.event_mark(), server.event_mark()
        self.link.restart_proxy()
        agent.wait_for_event("disconnected", since=mark)
        server.wait_for_event("agent_disconnected", lambda e: e.get("client_id") == client_id,
                              since=smark)
        new_port = agent.tunnel_port("web", timeout=45, since=mark)
        h.wait_tunnel_works(new_port)
        h.assert_tunnel_works(self, new_port, size=4 * 1024 * 1024)
        self.assert_alive(agent)


if __name__ == "__main__":
    unittest.main()
