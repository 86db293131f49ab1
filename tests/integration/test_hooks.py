"""Remote hooks end to end: real reitunneld, real agents, real gRPC hook
services as processes (recording_hook.py, and the SDK's Python example).

Run with REITUNNEL_HOOK_STUBS pointing at build/python (set by ctest)."""

import datetime
import json
import os
import signal
import threading
import time
import unittest

import harness
from harness import IntegrationTest, LOOPBACK, wait_until

_HERE = os.path.dirname(os.path.abspath(__file__))
RECORDING_HOOK = os.path.join(_HERE, "recording_hook.py")
PY = "/usr/bin/python3"


def stubs_dir():
    d = os.environ.get("REITUNNEL_HOOK_STUBS") or os.path.join(
        os.path.dirname(harness.bin_dir()), "python")
    if not os.path.isfile(os.path.join(d, "reitunnel", "hook", "v1", "hook_pb2.py")):
        raise AssertionError(f"hook stubs not found in {d}: build the hookd_python_stubs target")
    return d


def ts(ev):
    return datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")


class HookTest(IntegrationTest):
    def start_hook(self, name="hook", port=0, *flags):
        p = self.spawn(harness.Proc, name,
                       [PY, RECORDING_HOOK, f"--listen={LOOPBACK}:{port}", f"--name={name}",
                        *flags],
                       env={"REITUNNEL_HOOK_STUBS": stubs_dir(), "PYTHONDONTWRITEBYTECODE": "1"})
        ev = p.wait_for_event("listening")
        p.port = ev["port"]
        return p

    def hook_cfg(self, name, port, events=None, timeout_ms=None, policy=None):
        h = {"name": name, "address": f"{LOOPBACK}:{port}"}
        if events is not None:
            h["events"] = events
        if timeout_ms is not None:
            h["timeout_ms"] = timeout_ms
        if policy is not None:
            h["failure_policy"] = policy
        return h

    def start_hooked_server(self, hooks, strategy=None, flush_ms=200, startup_wait_ms=3000, **kw):
        # A short start-up wait: several tests point hooks at dead ports.
        settings = {"flush_interval_ms": flush_ms, "startup_wait_ms": startup_wait_ms}
        if strategy:
            settings["strategy"] = strategy
        return self.start_server(config={"hooks": hooks, "hook_settings": settings}, **kw)

    def records(self, hook, event=None):
        return [e for e in hook.events if event is None or e.get("event") == event]

    # --- vetoes ---------------------------------------------------------------

    def test_agent_veto_reaches_the_agent_verbatim(self):
        hook = self.start_hook("policy", 0, "--deny-client-label=team=red")
        server = self.start_hooked_server([self.hook_cfg("policy", hook.port)])
        echo = self.start_echo()
        red = self.start_agent(server, [("web", 0, echo.port)], wait_open=False,
                               extra_args=["--label=team=red"], name="red")
        self.assertEqual(red.wait_exit(), 1, "a vetoed agent exits non-zero")
        denied = red.wait_for_event("agent_denied")
        self.assertIn("policy: agents labelled team=red are not allowed", denied["msg"])
        blue = self.start_agent(server, [("web", 0, echo.port)], extra_args=["--label=team=blue"],
                                name="blue")
        self.assertTrue(harness.tunnel_works(blue.remote_ports["web"]))
        # The hook saw the labels in the metadata.
        connects = self.records(hook, "client_connect")
        self.assertEqual(connects[-1]["req"]["metadata"]["label.team"], "blue")
        self.assertIn("remote_addr", connects[-1]["req"]["metadata"])
        self.assertIn("agent_version", connects[-1]["req"]["metadata"])

    def test_tunnel_veto_leaves_no_port_bound(self):
        hook = self.start_hook("policy", 0, "--deny-tunnel=^admin")
        server = self.start_hooked_server([self.hook_cfg("policy", hook.port)])
        echo = self.start_echo()
        # Fixed ports for both, so "web" cannot be given the vetoed port.
        admin_port = server.port_range.low
        agent = self.start_agent(server, [f"admin={admin_port}:{LOOPBACK}:{echo.port}",
                                          f"web={admin_port + 1}:{LOOPBACK}:{echo.port}"],
                                 wait_open=False)
        refused = agent.wait_for_event("tunnel_refused", lambda e: e.get("name") == "admin")
        self.assertIn('policy: tunnel name "admin" is reserved', refused["msg"])
        self.assertEqual(refused["code"], "DENIED")
        web_port = agent.tunnel_port("web")
        self.assertTrue(harness.tunnel_works(web_port))
        self.assertTrue(harness.can_bind(admin_port), "a vetoed tunnel must leave no port bound")
        opens = self.records(hook, "tunnel_open")
        admin_req = [o for o in opens if o["req"]["tunnel_name"] == "admin"][0]["req"]
        self.assertEqual(admin_req["remote_port"], admin_port)
        self.assertEqual(admin_req["metadata"]["tunnel_name"], "admin")
        self.assertEqual(admin_req["local_addr"], f"{LOOPBACK}:{echo.port}")
        # A denied tunnel never gets OnTunnelClose, even at shutdown.
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(), 0)
        hook.wait_for_event("client_disconnect")
        closed = [c["req"]["tunnel_id"] for c in self.records(hook, "tunnel_close")]
        denied_id = admin_req["tunnel_id"]
        self.assertNotIn(denied_id, closed)
        self.assertEqual(len(closed), 1)

    def test_server_start_veto_exits_non_zero_with_reason(self):
        hook = self.start_hook("gate", 0, "--deny-start")
        server = self.start_hooked_server(
            [self.hook_cfg("gate", hook.port, events=["server_start"])], wait_ready=False)
        self.assertEqual(server.wait_exit(), 1)
        self.assertTrue(any("gate: start denied" in l for l in server.lines), server.tail())

    # --- failure policy -------------------------------------------------------

    def test_hook_down_fail_closed_denies_fail_open_allows(self):
        dead = harness.unused_port()
        closed = self.start_hooked_server(
            [self.hook_cfg("down", dead, events=["tunnel_open"], policy="fail_closed")],
            name="closed")
        echo = self.start_echo()
        a = self.start_agent(closed, [("web", 0, echo.port)], wait_open=False, name="a")
        refused = a.wait_for_event("tunnel_refused")
        self.assertIn('policy hook "down" could not decide', refused["msg"])
        # Not a veto: retryable, and no transport detail reaches the agent.
        self.assertEqual(refused["code"], "UNAVAILABLE")
        self.assertNotIn(str(dead), refused["msg"])
        self.assert_alive(a)

        opened = self.start_hooked_server(
            [self.hook_cfg("down", dead, events=["tunnel_open"], policy="fail_open")],
            name="open")
        b = self.start_agent(opened, [("web", 0, echo.port)], name="b")
        self.assertTrue(harness.tunnel_works(b.remote_ports["web"]))

    def test_slow_hook_decision_lands_within_timeout_plus_100ms(self):
        for policy, outcome in (("fail_closed", "tunnel_refused"), ("fail_open", "tunnel_open")):
            with self.subTest(policy=policy):
                hook = self.start_hook(f"slow-{policy}", 0, "--delay-ms=3000")
                server = self.start_hooked_server(
                    [self.hook_cfg("slow", hook.port, events=["tunnel_open"], timeout_ms=300,
                                   policy=policy)], name=f"server-{policy}")
                echo = self.start_echo()
                agent = self.start_agent(server, [("web", 0, echo.port)], wait_open=False,
                                         name=f"agent-{policy}")
                connected = agent.wait_for_event("connected")
                result = agent.wait_for_event(outcome)
                elapsed = (ts(result) - ts(connected)).total_seconds()
                self.assertGreaterEqual(elapsed, 0.29, "the hook's timeout was not waited for")
                self.assertLessEqual(elapsed, 0.3 + 0.1, f"decision took {elapsed:.3f}s")
                if outcome == "tunnel_refused":
                    # A timeout is not a DENY: the agent is told it may retry,
                    # and keeps retrying instead of exiting for good.
                    self.assertEqual(result["code"], "UNAVAILABLE")
                    self.assertTrue(result["retryable"])
                    agent.wait_for_event("tunnel_refused", since=agent.events.index(result) + 1,
                                         timeout=10)
                    self.assert_alive(agent)

    # --- data, totals, ordering ----------------------------------------------

    def test_tunnel_close_totals_equal_relayed_bytes_and_ordering_holds(self):
        hook = self.start_hook("acct")
        server = self.start_hooked_server([self.hook_cfg("acct", hook.port)])
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port), ("api", 0, echo.port)])
        sent = 0
        for size in (1, 1000, 65536, 3 * 1024 * 1024 + 17):
            payload = os.urandom(size)
            self.assertEqual(harness.echo_roundtrip(agent.remote_ports["web"], payload), payload)
            sent += size
        agent.signal(signal.SIGTERM)
        self.assertEqual(agent.wait_exit(), 0)
        hook.wait_for_event("client_disconnect")
        recs = self.records(hook)
        by_event = lambda ev: [r for r in recs if r["event"] == ev]  # noqa: E731
        closes = {r["req"]["tunnel_id"]: r for r in by_event("tunnel_close")}
        opens = {r["req"]["tunnel_id"]: r for r in by_event("tunnel_open")}
        self.assertEqual(set(closes), set(opens), "each opened tunnel closes exactly once")
        self.assertEqual(len(by_event("tunnel_close")), 2)
        web_id = [t for t, r in opens.items() if r["req"]["tunnel_name"] == "web"][0]
        web_close = closes[web_id]["req"]
        self.assertEqual(int(web_close["bytes_received"]), sent)
        self.assertEqual(int(web_close["bytes_sent"]), sent)
        self.assertEqual(int(web_close["visitors"]), 4)
        # Batches add up to the same exact totals.
        batch_in = sum(int(t.get("bytes_received", 0)) for b in by_event("data_batch")
                       for t in b["req"].get("tunnels", []) if t["tunnel_id"] == web_id)
        self.assertEqual(batch_in, sent)
        # Ordering: connect < opens; last batch naming a tunnel < its close;
        # every close < disconnect; each exactly once.
        connect = by_event("client_connect")
        disconnect = by_event("client_disconnect")
        self.assertEqual((len(connect), len(disconnect)), (1, 1))
        for tid in opens:
            self.assertLess(connect[0]["n"], opens[tid]["n"])
            batches = [b["n"] for b in by_event("data_batch")
                       if any(t["tunnel_id"] == tid for t in b["req"].get("tunnels", []))]
            if batches:
                self.assertLess(max(batches), closes[tid]["n"])
            self.assertLess(closes[tid]["n"], disconnect[0]["n"])
        seqs = [int(b["req"]["sequence"]) for b in by_event("data_batch")]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "no gaps when nothing dropped")

    def test_many_small_writes_give_few_batches(self):
        hook = self.start_hook("data")
        server = self.start_hooked_server([self.hook_cfg("data", hook.port, events=["data"])],
                                          flush_ms=1000)
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)])
        s = harness.connect(agent.remote_ports["web"])
        self.addCleanup(s.close)
        writes = 3000
        for _ in range(writes):
            s.sendall(b"x")
        harness.recv_exactly(s, writes)
        s.close()
        wait_until(lambda: sum(int(t.get("bytes_received", 0))
                               for b in self.records(hook, "data_batch")
                               for t in b["req"].get("tunnels", [])) == writes,
                   what="batches to account for every byte")
        batches = self.records(hook, "data_batch")
        self.assertLessEqual(len(batches), 6, f"{writes} writes produced {len(batches)} batches")
        events = sum(int(t.get("received_events", 0)) for b in batches
                     for t in b["req"].get("tunnels", []))
        self.assertGreaterEqual(events, 1)

    # --- strategies -----------------------------------------------------------

    def test_stop_on_error_versus_collect_and_continue(self):
        for strategy in ("stop_on_error", "collect_and_continue"):
            with self.subTest(strategy=strategy):
                one = self.start_hook("one", 0, "--deny-tunnel=web")
                two = self.start_hook("two", 0, "--deny-tunnel=web")
                server = self.start_hooked_server(
                    [self.hook_cfg("one", one.port, events=["tunnel_open"]),
                     self.hook_cfg("two", two.port, events=["tunnel_open"])],
                    strategy=strategy, name=f"server-{strategy}")
                echo = self.start_echo()
                agent = self.start_agent(server, [("web", 0, echo.port)], wait_open=False,
                                         name=f"agent-{strategy}")
                refused = agent.wait_for_event("tunnel_refused")
                self.assertIn('one: tunnel name "web" is reserved', refused["msg"])
                self.assertEqual(agent.wait_exit(), 1, "no tunnel could open: the agent exits 1")
                if strategy == "stop_on_error":
                    self.assertNotIn("two:", refused["msg"])
                    self.assertEqual(self.records(two, "tunnel_open"), [],
                                     "stop_on_error must not ask the second hook")
                else:
                    self.assertIn('two: tunnel name "web" is reserved', refused["msg"])
                    self.assertEqual(len(self.records(two, "tunnel_open")), 1)

    # --- resilience -----------------------------------------------------------

    def test_hook_restart_during_traffic_never_stops_relaying(self):
        hook = self.start_hook("flaky")
        port = hook.port
        server = self.start_hooked_server(
            [self.hook_cfg("flaky", port, policy="fail_open")])
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)])
        web = agent.remote_ports["web"]
        stop = threading.Event()
        failures = []
        rounds = [0]

        def traffic():
            while not stop.is_set():
                payload = os.urandom(32 * 1024)
                try:
                    if harness.echo_roundtrip(web, payload, timeout=10) != payload:
                        failures.append("corrupt echo")
                except Exception as e:  # noqa: BLE001
                    failures.append(repr(e))
                rounds[0] += 1

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        self.addCleanup(lambda: (stop.set(), t.join(30)))
        wait_until(lambda: self.records(hook, "data_batch"), what="first data batch")
        hook.kill()
        r0 = rounds[0]
        wait_until(lambda: rounds[0] >= r0 + 20, what="relaying while the hook is down")
        restarted = self.start_hook("flaky2", port)
        wait_until(lambda: self.records(restarted, "data_batch"), timeout=30,
                   what="data stream to resume on the restarted hook")
        # Events resume too: a new tunnel reaches the new hook instance.
        agent2 = self.start_agent(server, [("api", 0, echo.port)], name="agent2")
        wait_until(lambda: any(r["req"]["tunnel_name"] == "api"
                               for r in self.records(restarted, "tunnel_open")),
                   what="tunnel_open on the restarted hook")
        self.assertTrue(harness.tunnel_works(agent2.remote_ports["api"]))
        stop.set()
        t.join(30)
        self.assertEqual(failures, [], "relaying must never fail because a hook restarts")

    def test_stalled_hook_never_slows_relayed_bytes(self):
        def transfer_seconds(port):
            payload = os.urandom(16 * 1024 * 1024)
            start = time.monotonic()
            self.assertEqual(harness.echo_roundtrip(port, payload, timeout=60), payload)
            return time.monotonic() - start

        echo = self.start_echo()
        plain = self.start_server(name="plain")
        a = self.start_agent(plain, [("web", 0, echo.port)], name="plain-agent")
        baseline = min(transfer_seconds(a.remote_ports["web"]) for _ in range(2))

        hook = self.start_hook("stalled", 0, "--stall-data", "--delay-ms=5000")
        server = self.start_hooked_server(
            [self.hook_cfg("stalled", hook.port,
                           events=["data", "tunnel_close", "client_disconnect", "error"])],
            flush_ms=50)
        b = self.start_agent(server, [("web", 0, echo.port)], name="hooked-agent")
        hooked = min(transfer_seconds(b.remote_ports["web"]) for _ in range(2))
        # Generous bound: this checks the data path never waits on the hook
        # (a blocked path would take the stream's whole timeout), not speed.
        self.assertLess(hooked, max(3 * baseline, baseline + 2.0),
                        f"relay with a stalled hook took {hooked:.2f}s vs {baseline:.2f}s")
        self.assertTrue(harness.tunnel_works(b.remote_ports["web"]))

    # --- any language ---------------------------------------------------------

    def test_python_sdk_example_hook_vetoes(self):
        example = os.path.join(stubs_dir(), "hook_service.py")
        self.assertTrue(os.path.isfile(example), example)
        hook = self.spawn(harness.Proc, "py-example",
                          [PY, example, f"--listen={LOOPBACK}:0", "--deny-tunnel-name=^admin"],
                          env={"PYTHONDONTWRITEBYTECODE": "1"})
        wait_until(lambda: any('"listening"' in l for l in hook.stdout_lines),
                   what="the Python hook's listening line")
        line = [l for l in hook.stdout_lines if '"listening"' in l][0]
        port = json.loads(line)["port"]
        server = self.start_hooked_server([self.hook_cfg("py", port)])
        echo = self.start_echo()
        agent = self.start_agent(server, [f"admin=0:{LOOPBACK}:{echo.port}",
                                          f"web=0:{LOOPBACK}:{echo.port}"], wait_open=False)
        refused = agent.wait_for_event("tunnel_refused", lambda e: e.get("name") == "admin")
        self.assertIn("admin", refused["msg"])
        self.assertTrue(harness.tunnel_works(agent.tunnel_port("web")))


if __name__ == "__main__":
    unittest.main()
