"""Cluster-mode fixtures: a real etcd, three reitunneld replicas on
127.0.0.2-4 (same ports, like pods behind a Service) and haproxy on
127.0.0.1 as the L4 load balancer for the agent port and the public ports,
with health checks. Processes are started and killed by PID."""

import json
import os
import socket
import urllib.request

import harness as h

REPLICA_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
LB = h.LOOPBACK


def free_port_on(ips, attempts=200):
    """A port nobody listens on at any of `ips`."""
    for _ in range(attempts):
        s = socket.socket()
        s.bind((ips[0], 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for ip in ips:
            t = socket.socket()
            try:
                t.bind((ip, port))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return port
    raise AssertionError("no port free on every address")


class ClusterTest(h.IntegrationTest):
    LEASE_TTL_S = 3
    DRAIN_MS = 3000

    def setUp(self):
        super().setUp()
        self.ports = self.port_range(10)
        self.agent_port = free_port_on((LB,) + REPLICA_IPS)
        self.cluster_name = "it-" + os.urandom(4).hex()
        self.etcd = None
        self.replicas = {}

    # -- etcd ------------------------------------------------------------------

    def start_etcd(self):
        for _ in range(5):
            client = free_port_on((LB,))
            peer = free_port_on((LB,))
            if client == peer:
                continue
            data = os.path.join(self.tmp, f"etcd-{client}")
            argv = ["/usr/bin/etcd", "--name", "n1", "--data-dir", data,
                    "--listen-client-urls", f"http://{LB}:{client}",
                    "--advertise-client-urls", f"http://{LB}:{client}",
                    "--listen-peer-urls", f"http://{LB}:{peer}",
                    "--initial-advertise-peer-urls", f"http://{LB}:{peer}",
                    "--initial-cluster", f"n1=http://{LB}:{peer}",
                    "--log-level", "error"]
            p = self.spawn(h.Proc, "etcd", argv)
            url = f"http://{LB}:{client}"
            try:
                h.wait_until(lambda: self._etcd_healthy(url), 15, "etcd to answer /health")
            except h.WaitTimeout:
                p.kill()
                continue
            self.etcd = p
            self.etcd_url = url
            self.etcd_argv = argv
            return p
        raise AssertionError("could not start etcd")

    def restart_etcd(self):
        self.etcd = self.spawn(h.Proc, "etcd", self.etcd_argv)
        h.wait_until(lambda: self._etcd_healthy(self.etcd_url), 15, "etcd to answer again")

    @staticmethod
    def _etcd_healthy(url):
        with urllib.request.urlopen(url + "/health", timeout=2) as r:
            return json.loads(r.read()).get("health") == "true"

    # -- replicas --------------------------------------------------------------

    def start_replica(self, i, wait_ready=True, config=None):
        ip = REPLICA_IPS[i]
        cfg = h.deep_merge({
            "public_bind_addr": ip,
            "cluster": {"endpoints": [self.etcd_url], "name": self.cluster_name,
                        "replica_id": f"r{i}", "lease_ttl_s": self.LEASE_TTL_S},
            "timeouts": {"drain_ms": self.DRAIN_MS, "heartbeat_interval_ms": 1000,
                         "idle_ms": 4000},
        }, config or {})
        p = self.start_server(listen=f"{ip}:{self.agent_port}", admin=f"{ip}:0",
                              ports=self.ports, config=cfg, wait_ready=wait_ready,
                              name=f"r{i}")
        if wait_ready:
            p.wait_for_event("cluster_joined")
        self.replicas[i] = p
        return p

    def start_cluster(self, n=3):
        if not self.etcd:
            self.start_etcd()
        for i in range(n):
            self.start_replica(i)
        self.start_haproxy(n)

    # -- haproxy ---------------------------------------------------------------

    def start_haproxy(self, n=3):
        lo, hi = self.ports.low, self.ports.high
        servers_agent = "\n".join(
            f"    server r{i} {REPLICA_IPS[i]}:{self.agent_port} check inter 200 fall 1 rise 1"
            for i in range(n))
        # No port: a visitor's connection goes to the same port on the
        # replica. The health check is the replica's agent port, which
        # closes first when it drains.
        servers_public = "\n".join(
            f"    server r{i} {REPLICA_IPS[i]} check port {self.agent_port} inter 200 fall 1 rise 1"
            for i in range(n))
        cfg = f"""
global
    maxconn 4000
defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
    retry-on conn-failure empty-response
frontend agents
    bind {LB}:{self.agent_port}
    default_backend agents
backend agents
    balance roundrobin
{servers_agent}
frontend public
    bind {LB}:{lo}-{hi}
    default_backend public
backend public
    balance roundrobin
{servers_public}
"""
        path = self.write_file("haproxy.cfg", cfg)
        p = self.spawn(h.Proc, "haproxy", ["/usr/sbin/haproxy", "-db", "-f", path])
        h.wait_until(lambda: self._listens(LB, self.agent_port), 10, "haproxy to listen")
        self.haproxy = p
        return p

    @staticmethod
    def _listens(ip, port):
        s = socket.socket()
        s.settimeout(1)
        try:
            s.connect((ip, port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    # -- agents ----------------------------------------------------------------

    def start_cluster_agent(self, tunnels, name="agent", wait_replicas=3, **kw):
        a = self.start_agent(None, tunnels, server_addr=f"{LB}:{self.agent_port}",
                             wait_open=False, name=name, **kw)
        self.wait_meshed(a, wait_replicas)
        return a

    def connected_replicas(self, agent):
        """Replica ids the agent currently holds sessions to (from its log)."""
        live = set()
        for e in agent.events:
            if e.get("event") == "connected" and e.get("replica_id"):
                live.add(e["replica_id"])
            elif e.get("event") == "disconnected" and e.get("replica_id"):
                live.discard(e["replica_id"])
        return live

    def wait_meshed(self, agent, n=3, timeout=30, since=0):
        return h.wait_until(lambda: len(self.connected_replicas(agent)) >= n, timeout,
                            f"{agent.name} to hold sessions to {n} replicas")

    def wait_tunnel_everywhere(self, port, n=3, timeout=30):
        """Every replica serves `port` directly (bypassing the balancer)."""
        def ok():
            return all(self._listens(REPLICA_IPS[i], port) for i in range(n))
        h.wait_until(ok, timeout, f"port {port} on every replica")
