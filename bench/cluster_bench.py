"""Cluster-mode figures for bench/README.md (issue 10), side by side in one run.

  cd tests/integration && REITUNNEL_BIN_DIR=../../build/bin \
    /usr/bin/python3 ../../bench/cluster_bench.py [SECONDS_PER_RATE_RUN]

Prints, through haproxy as the L4 balancer (as in integration.cluster):
  - short echo connections/s with 3 replicas vs 1 (same client, same run);
  - tunnel open latency in cluster mode vs standalone (agent log: the
    session's `connected` to the tunnel's `tunnel_open`, median of runs);
  - kill -9 of one replica: time until the agent noticed, and until it held
    the tunnel on the restarted replica again.
A benchmark, not a test: it asserts only that what it measured worked.
"""
import os
import statistics
import sys
import threading
import time
import unittest
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import cluster_harness as ch  # noqa: E402
import harness as h  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else 5.0
RESULTS = {}


def ts(event):
    return datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def rate(port, seconds, threads=4):
    """Verified short echo connections per second through 127.0.0.1:port."""
    done = [0] * threads
    failed = [0] * threads
    stop = time.monotonic() + seconds

    def loop(i):
        payload = b"r" * 64
        while time.monotonic() < stop:
            try:
                if h.echo_roundtrip(port, payload) == payload:
                    done[i] += 1
                else:
                    failed[i] += 1
            except OSError:
                failed[i] += 1

    ts_ = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    t0 = time.monotonic()
    for t in ts_:
        t.start()
    for t in ts_:
        t.join()
    return sum(done) / (time.monotonic() - t0), sum(failed)


def open_latencies(agent):
    connected = {}
    out = []
    for e in agent.events:
        rid = e.get("replica_id", "")
        if e.get("event") == "connected":
            connected[rid] = ts(e)
        elif e.get("event") == "tunnel_open" and rid in connected:
            out.append((ts(e) - connected[rid]) * 1000)
    return out


class ClusterBench(ch.ClusterTest):
    def test_1_rate_3_vs_1_replicas(self):
        for n in (1, 3):
            self.start_cluster(n=n)
            echo = self.start_echo()
            port = self.ports.low + n
            agent = self.start_cluster_agent([("web", port, echo.port)], wait_replicas=n,
                                             name=f"agent{n}")
            self.wait_tunnel_everywhere(port, n=n)
            r, failed = rate(port, SECONDS)
            RESULTS[f"conn/s through haproxy, {n} replica(s)"] = f"{r:.0f} ({failed} failed)"
            self.assertGreater(r, 0)
            agent.signal(15)
            agent.wait_exit()
            for p in list(self.replicas.values()):
                p.signal(15)
                p.wait_exit()
            self.replicas.clear()
            self.haproxy.signal(15)
            self.haproxy.wait_exit()
            h.wait_until(lambda: not self._listens(ch.LB, self.agent_port), 10, "haproxy gone")

    def test_2_open_latency_cluster(self):
        self.start_cluster()
        echo = self.start_echo()
        lat = []
        for i in range(5):
            a = self.start_cluster_agent([(f"t{i}", self.ports.low + i, echo.port)],
                                         name=f"open{i}")
            h.wait_until(lambda: len(a.find_events("tunnel_open")) >= 3, 30, "3 opens")
            lat += open_latencies(a)
            a.signal(15)
            a.wait_exit()
        RESULTS["tunnel open, cluster (3 replicas), median ms"] = f"{statistics.median(lat):.1f}"

    def test_3_kill9_remesh(self):
        self.start_cluster()
        echo = self.start_echo()
        port = self.ports.low
        agent = self.start_cluster_agent([("web", port, echo.port)])
        self.wait_tunnel_everywhere(port)
        mark = agent.event_mark()
        t0 = time.monotonic()
        self.replicas[1].kill()
        agent.wait_for_event("disconnected", lambda e: e.get("replica_id") == "r1", since=mark)
        RESULTS["kill -9: agent noticed, s"] = f"{time.monotonic() - t0:.2f}"
        t1 = time.monotonic()
        self.start_replica(1)
        agent.wait_for_event("tunnel_open", lambda e: e.get("replica_id") == "r1", since=mark,
                             timeout=30)
        RESULTS["kill -9: re-meshed after the replica restarted, s"] = f"{time.monotonic() - t1:.2f}"


class StandaloneBench(h.IntegrationTest):
    def test_open_latency_standalone(self):
        server = self.start_server()
        echo = self.start_echo()
        lat = []
        for i in range(5):
            a = self.start_agent(server, [(f"t{i}", 0, echo.port)], name=f"open{i}")
            lat += open_latencies(a)
            a.signal(15)
            a.wait_exit()
        RESULTS["tunnel open, standalone, median ms"] = f"{statistics.median(lat):.1f}"


if __name__ == "__main__":
    prog = unittest.main(argv=[sys.argv[0]], exit=False, verbosity=1)
    print("\n| figure | value |\n|---|---|")
    for k, v in RESULTS.items():
        print(f"| {k} | {v} |")
    sys.exit(0 if prog.result.wasSuccessful() else 1)
