"""Prometheus metrics checked against real traffic, and health during drain."""

import os
import re
import signal
import unittest
import urllib.request

import harness
from harness import IntegrationTest, LOOPBACK, wait_until


def scrape(addr):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            # Canonical key: labels sorted by name, whatever order the
            # exposition used.
            labels = sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            key = m.group(1)
            if labels:
                key += "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
            samples[key] = float(m.group(3))
    return samples


def health(addr):
    import grpc  # noqa: PLC0415  (Debian's python3-grpcio)
    with grpc.insecure_channel(addr) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check",
                               request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
        resp = check(b"", timeout=5)
    return {b"\x08\x01": "SERVING", b"\x08\x02": "NOT_SERVING"}.get(resp, repr(resp))


class MetricsTest(IntegrationTest):
    def test_metrics_follow_traffic(self):
        metrics_port = harness.unused_port()
        server = self.start_server(extra_args=[f"--metrics={LOOPBACK}:{metrics_port}"])
        ev = server.wait_for_event("metrics_listener_ready")
        addr = ev["addr"]
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port), ("api", 0, echo.port)])
        sent = 0
        for size in (10, 70000, 1 << 20):
            payload = os.urandom(size)
            self.assertEqual(harness.echo_roundtrip(agent.remote_ports["web"], payload), payload)
            sent += size
        s = scrape(addr)
        self.assertEqual(s["reitunnel_agents"], 1)
        self.assertEqual(s["reitunnel_tunnels"], 2)
        wait_until(lambda: scrape(addr)['reitunnel_bytes_total{direction="in"}'] == sent,
                   what="bytes in to match the traffic")
        s = scrape(addr)
        self.assertEqual(s['reitunnel_bytes_total{direction="out"}'], sent)
        self.assertEqual(s["reitunnel_visitor_connections"], 0)
        # Counters stay monotonic when the tunnels close.
        agent.signal(signal.SIGTERM)
        self.assertEqual(agent.wait_exit(), 0)
        wait_until(lambda: scrape(addr)["reitunnel_tunnels"] == 0, what="tunnels gauge to drop")
        s = scrape(addr)
        self.assertEqual(s['reitunnel_bytes_total{direction="in"}'], sent)
        self.assertEqual(s["reitunnel_agents"], 0)
        # No per-visitor label anywhere.
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
            text = r.read().decode()
        self.assertNotIn("visitor=", text)
        self.assertNotIn(self.token, text)

    def test_hook_metrics_count_decisions(self):
        hook = self.spawn(harness.Proc, "hook",
                          ["/usr/bin/python3", os.path.join(os.path.dirname(__file__),
                                                            "recording_hook.py"),
                           f"--listen={LOOPBACK}:0", "--deny-tunnel=^admin"],
                          env={"REITUNNEL_HOOK_STUBS": os.environ.get(
                              "REITUNNEL_HOOK_STUBS",
                              os.path.join(os.path.dirname(harness.bin_dir()), "python"))})
        hook_port = hook.wait_for_event("listening")["port"]
        metrics_port = harness.unused_port()
        server = self.start_server(extra_args=[f"--metrics={LOOPBACK}:{metrics_port}",
                                               f"--hook=policy={LOOPBACK}:{hook_port}"])
        addr = server.wait_for_event("metrics_listener_ready")["addr"]
        echo = self.start_echo()
        agent = self.start_agent(server, [f"admin=0:{LOOPBACK}:{echo.port}",
                                          f"web=0:{LOOPBACK}:{echo.port}"], wait_open=False)
        agent.tunnel_port("web")
        agent.wait_for_event("tunnel_refused")
        s = scrape(addr)
        key = 'reitunnel_hook_calls_total{{decision="{}",event="tunnel_open",hook="policy"}}'
        self.assertEqual(s[key.format("deny")], 1)
        self.assertEqual(s[key.format("allow")], 1)
        self.assertEqual(s['reitunnel_hook_calls_total{decision="allow",event="client_connect",hook="policy"}'], 1)
        self.assertEqual(s['reitunnel_hook_calls_total{decision="allow",event="server_start",hook="policy"}'], 1)
        # server_start + client_connect + two tunnel_open decisions.
        self.assertEqual(s['reitunnel_hook_latency_seconds_count{hook="policy"}'], 4)

    def test_health_is_not_serving_while_draining(self):
        server = self.start_server(config={"timeouts": {"drain_ms": 20000}})
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)])
        self.assertEqual(health(server.admin_addr), "SERVING")
        # An open visitor keeps the server draining after SIGTERM.
        visitor = harness.connect(agent.remote_ports["web"])
        self.addCleanup(visitor.close)
        visitor.sendall(b"ping")
        self.assertEqual(harness.recv_exactly(visitor, 4), b"ping")
        server.signal(signal.SIGTERM)
        server.wait_for_event("shutdown_started")
        self.assertEqual(health(server.admin_addr), "NOT_SERVING")
        # The visitor still works while draining; closing it ends the drain.
        visitor.sendall(b"pong")
        self.assertEqual(harness.recv_exactly(visitor, 4), b"pong")
        visitor.close()
        self.assertEqual(server.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
