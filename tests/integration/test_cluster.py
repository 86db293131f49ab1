"""Cluster mode end to end: a real etcd, three replicas on 127.0.0.2-4 and
haproxy on 127.0.0.1 as the L4 balancer (agent port and public ports, with
health checks), agents dialing the balancer only."""

import os
import signal
import socket
import threading
import time

import harness as h
from cluster_harness import LB, REPLICA_IPS, ClusterTest


class BannerServer(h._ThreadedServer):
    """Sends its name and closes: tells which agent's service answered."""

    def __init__(self, banner):
        self.banner = banner.encode()
        super().__init__(name="banner")

    def handle(self, conn, peer):
        conn.sendall(self.banner)
        conn.shutdown(socket.SHUT_WR)


def banner_at(ip, port, timeout=5):
    try:
        s = socket.create_connection((ip, port), timeout=timeout)
    except OSError:
        return None
    try:
        data, _ = h.recv_until_eof(s, timeout=timeout)
        return data.decode() or None
    except (OSError, h.WaitTimeout):
        return None
    finally:
        s.close()


class Load:
    """Short verified echo requests through the balancer, back to back."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            payload = os.urandom(1024)
            try:
                s = h.connect(self.port, timeout=10, host=LB)
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got, how = h.recv_until_eof(s, timeout=10)
                s.close()
                if got != payload:
                    self.failures.append(f"{how}: {len(got)} of {len(payload)} bytes")
                else:
                    self.ok += 1
            except (OSError, AssertionError) as e:
                self.failures.append(repr(e))

    def stop(self):
        self._stop.set()
        self._t.join(20)


class ClusterMeshTest(ClusterTest):
    def test_agent_meshes_and_every_replica_serves_the_tunnel(self):
        self.start_cluster()
        echo = self.start_echo()
        port = self.ports.low
        agent = self.start_cluster_agent([("web", port, echo.port)])
        self.assertEqual(self.connected_replicas(agent), {"r0", "r1", "r2"})
        self.wait_tunnel_everywhere(port)
        # Directly on each replica and through the balancer.
        for ip in REPLICA_IPS + (LB,):
            payload = os.urandom(70000)
            s = socket.create_connection((ip, port), timeout=10)
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            got, _ = h.recv_until_eof(s)
            s.close()
            self.assertEqual(got, payload, f"echo through {ip}:{port}")
        # One identity across replicas: each replica sees the same client id
        # and tells hooks which replica it is.
        ids = {r.wait_for_event("agent_connected")["client_id"] for r in self.replicas.values()}
        self.assertEqual(len(ids), 1, ids)

    def test_port_zero_gets_one_port_on_every_replica(self):
        self.start_cluster()
        echo = self.start_echo()
        agent = self.start_cluster_agent([("any", 0, echo.port)])
        h.wait_until(lambda: len(agent.find_events("tunnel_open")) >= 3, 30,
                     "the tunnel to open on three replicas")
        ports = {int(e["remote_port"]) for e in agent.find_events("tunnel_open")}
        self.assertEqual(len(ports), 1, f"one port everywhere, got {ports}")
        self.wait_tunnel_everywhere(ports.pop())

    def test_port_race_never_two_owners(self):
        self.start_cluster()
        a_svc = BannerServer("A")
        b_svc = BannerServer("B")
        self.addCleanup(a_svc.close)
        self.addCleanup(b_svc.close)
        trials = 0
        ports = self.ports.ports()[:10]
        for round_ in range(5):
            specs_a = [(f"t{p}", p, a_svc.port) for p in ports]
            specs_b = [(f"t{p}", p, b_svc.port) for p in ports]
            a = self.start_agent(None, specs_a, server_addr=f"{LB}:{self.agent_port}",
                                 wait_open=False, name=f"a{round_}")
            b = self.start_agent(None, specs_b, server_addr=f"{LB}:{self.agent_port}",
                                 wait_open=False, name=f"b{round_}")
            self.wait_meshed(a)
            self.wait_meshed(b)
            # Every port settles: opened by one agent on three replicas.
            def settled():
                opened = {}
                for agent, who in ((a, "A"), (b, "B")):
                    for e in agent.find_events("tunnel_open"):
                        opened.setdefault(int(e["remote_port"]), set()).add((who, e["replica_id"]))
                return all(len(opened.get(p, ())) >= 3 for p in ports) and opened
            opened = h.wait_until(settled, 30, "every raced port to open on three replicas")
            for p in ports:
                owners = {who for who, _ in opened[p]}
                self.assertEqual(len(owners), 1, f"port {p} opened by both agents: {opened[p]}")
                banners = {banner_at(ip, p) for ip in REPLICA_IPS}
                self.assertEqual(len(banners - {None}), 1, f"port {p} served by {banners}")
                trials += 1
            loser_refusals = [e for ag in (a, b) for e in ag.find_events("tunnel_refused")]
            self.assertTrue(all(e["code"] == "PORT_IN_USE" for e in loser_refusals),
                            {e["code"] for e in loser_refusals})
            for ag in (a, b):
                ag.terminate()
                self.assertEqual(ag.wait_exit(), 0)
            # The ports are released everywhere before the next round.
            h.wait_until(lambda: not any(self._listens(ip, p) for ip in REPLICA_IPS
                                         for p in ports), 20, "ports released")
        self.assertEqual(trials, 50)


class ClusterFailureTest(ClusterTest):
    def test_rolling_restart_loses_no_request(self):
        self.start_cluster()
        echo = self.start_echo()
        port = self.ports.low
        agent = self.start_cluster_agent([("web", port, echo.port)])
        self.wait_tunnel_everywhere(port)
        load = Load(port)
        try:
            h.wait_until(lambda: load.ok >= 20, 20, "load to run")
            for i in range(3):
                r = self.replicas[i]
                mark = agent.event_mark()
                r.terminate()
                self.assertEqual(r.wait_exit(30), 0)
                self.start_replica(i)
                h.wait_until(lambda: any(e.get("replica_id") == f"r{i}"
                                         for e in agent.find_events("tunnel_open", since=mark)),
                             30, f"the tunnel back on r{i}")
                before = load.ok
                h.wait_until(lambda: load.ok >= before + 20, 20, "load to keep running")
        finally:
            load.stop()
        self.assertEqual(load.failures, [], f"{len(load.failures)} failed of {load.ok}")
        self.assertGreater(load.ok, 100)

    def test_kill9_one_replica_then_remesh(self):
        self.start_cluster()
        echo = self.start_echo()
        port = self.ports.low
        agent = self.start_cluster_agent([("web", port, echo.port)])
        self.wait_tunnel_everywhere(port)
        mark = agent.event_mark()
        t0 = time.monotonic()
        self.replicas[1].kill()
        agent.wait_for_event("disconnected", lambda e: e.get("replica_id") == "r1", since=mark)
        detect = time.monotonic() - t0
        # The others keep serving through the balancer.
        for _ in range(20):
            self.assertEqual(h.echo_roundtrip(port, b"x" * 100), b"x" * 100)
        t1 = time.monotonic()
        self.start_replica(1)
        agent.wait_for_event("tunnel_open", lambda e: e.get("replica_id") == "r1", since=mark,
                             timeout=30)
        remesh = time.monotonic() - t1
        sys_line = f"kill -9: agent noticed in {detect:.2f}s, re-meshed {remesh:.2f}s after restart"
        print(sys_line)
        self.assertLess(remesh, 15)

    def test_etcd_outage_keeps_tunnels_and_refuses_new_claims_retryably(self):
        self.LEASE_TTL_S = 10
        self.start_cluster()
        echo = self.start_echo()
        port = self.ports.low
        agent = self.start_cluster_agent([("web", port, echo.port)])
        self.wait_tunnel_everywhere(port)
        # A long-lived visitor relaying through the outage.
        s = socket.create_connection((LB, port), timeout=10)
        self.etcd.kill()
        second = self.start_cluster_agent([("late", self.ports.low + 1, echo.port)], name="late")
        refused = second.wait_for_event("tunnel_refused")
        self.assertEqual(refused["code"], "UNAVAILABLE")
        self.assertTrue(refused["retryable"])
        for _ in range(10):
            s.sendall(b"ping")
            self.assertEqual(h.recv_exactly(s, 4), b"ping")
            self.assertEqual(h.echo_roundtrip(port, b"y" * 64), b"y" * 64)
        self.restart_etcd()
        second.wait_for_event("tunnel_open", timeout=40)
        s.close()
        self.assert_alive(agent)

    def test_kick_and_close_through_any_replica_act_on_all(self):
        self.start_cluster()
        echo = self.start_echo()
        agent = self.start_cluster_agent([("web", self.ports.low, echo.port),
                                          ("api", self.ports.low + 1, echo.port)])
        self.wait_tunnel_everywhere(self.ports.low + 1)
        ctl = h.binary("reitunnelctl")
        admin = self.replicas[2].admin_addr
        import subprocess
        import json as _json
        out = subprocess.run([ctl, f"--admin={admin}", f"--token={self.token}", "tunnels", "list",
                              "-o", "json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        listing = _json.loads(out.stdout)
        tunnels = listing.get("tunnels", listing) if isinstance(listing, dict) else listing
        api = [t for t in tunnels if t.get("name") == "api"]
        self.assertEqual(len(api), 1, f"one row per tunnel in the cluster view: {tunnels}")
        self.assertEqual(sorted(api[0].get("replicas", [])), ["r0", "r1", "r2"])
        # `cluster status` through one replica shows all three, each with the
        # agent's two tunnels.
        out = subprocess.run([ctl, f"--admin={admin}", f"--token={self.token}", "cluster",
                              "status", "-o", "json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        status = _json.loads(out.stdout)
        self.assertTrue(status.get("enabled"), status)
        rows = {r.get("replicaId", r.get("replica_id")): r for r in status.get("replicas", [])}
        self.assertEqual(sorted(rows), ["r0", "r1", "r2"], status)
        for rid, r in rows.items():
            self.assertTrue(r.get("reachable"), f"{rid}: {r}")
            self.assertEqual(int(r.get("tunnels", 0)), 2, f"{rid}: {r}")
        table = subprocess.run([ctl, f"--admin={admin}", f"--token={self.token}", "cluster",
                                "status"], capture_output=True, text=True, timeout=30)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertRegex(table.stdout, r"(?m)^r2 \(\*\) +\S+ +serving +1 +2 ")
        out = subprocess.run([ctl, f"--admin={admin}", f"--token={self.token}", "tunnels", "close",
                              api[0]["tunnelId"] if "tunnelId" in api[0] else api[0]["tunnel_id"]],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        h.wait_until(lambda: not any(self._listens(ip, self.ports.low + 1) for ip in REPLICA_IPS),
                     20, "the closed tunnel to stop listening on every replica")
        out = subprocess.run([ctl, f"--admin={self.replicas[0].admin_addr}",
                              f"--token={self.token}", "clients", "kick", agent.client_id or
                              self.replicas[0].wait_for_event("agent_connected")["client_id"]],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(agent.wait_exit(), 1)
        for r in self.replicas.values():
            r.wait_for_event("agent_disconnected")
