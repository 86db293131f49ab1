"""Issue 14, defect 1 at full scale: 2,000 agents connected at once, every
one with a working tunnel, and the 2,001st refused with the agent-limit
reason when max_agents is 2,000.

Before the fix a connected agent held its handshake slot for its whole life,
so past 1,024 agents every new connection was closed before the server's
first frame. 2,000 `reitunnel` processes would not fit the machine, so the
agents are wire_agent.WireAgent instances in one asyncio loop (the same
protocol, handshake, links and framed relay; the agent echoes visitors
itself). Heavy: registered once in CMake, not per worker count.

REITUNNEL_LOAD_AGENTS overrides the count (e.g. to try 4,000 by hand)."""

import asyncio
import os
import resource
import time
import unittest

import harness as h
import wire_agent as wa

AGENTS = int(os.environ.get("REITUNNEL_LOAD_AGENTS", "2000"))


class AgentFleetTest(h.IntegrationTest):
    CONNECT_CONCURRENCY = 32   # below the per-source handshake limit (64)
    VISIT_CONCURRENCY = 64

    def test_2000_agents_each_with_a_working_tunnel_and_one_more_refused(self):
        # Per agent: a control connection and a link here and in the server,
        # plus one listener per worker in the server; a visitor costs 2 more.
        need = 3 * AGENTS + 2048
        have = wa.raise_fd_limit(need)
        if have < need:
            raise unittest.SkipTest(f"fd limit {have} < {need} needed for {AGENTS} agents")
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        workers = int(h.WORKERS or 2)
        if hard != resource.RLIM_INFINITY and hard < AGENTS * (2 + workers) + 1024:
            raise unittest.SkipTest(f"hard fd limit {hard} too low for the server")
        ports = self.port_range(size=AGENTS + 10)
        server = self.start_server(ports=ports, config={
            "limits": {"max_agents": AGENTS, "data_pool_size": 1}})
        base_rss = h.proc_rss_kib(server.pid)

        async def run():
            agents = [wa.WireAgent(h.LOOPBACK, server.agent_port, self.token)
                      for _ in range(AGENTS)]
            sem = asyncio.Semaphore(self.CONNECT_CONCURRENCY)
            errors = []

            async def bring_up(i, a):
                async with sem:
                    try:
                        await a.connect()
                        await a.open_tunnel(f"t{i}")
                    except (wa.Refused, OSError, asyncio.TimeoutError,
                            asyncio.IncompleteReadError, ConnectionError) as e:
                        errors.append(f"agent {i}: {e!r}")

            try:
                t0 = time.monotonic()
                await asyncio.gather(*(bring_up(i, a) for i, a in enumerate(agents)))
                up = time.monotonic() - t0
                self.assertEqual(errors[:10], [], f"{len(errors)} agents failed to come up")
                ports_used = {a.tunnels[f"t{i}"][1] for i, a in enumerate(agents)}
                self.assertEqual(len(ports_used), AGENTS)

                vsem = asyncio.Semaphore(self.VISIT_CONCURRENCY)
                bad = []

                async def visit(i, a):
                    async with vsem:
                        payload = os.urandom(1024)
                        try:
                            got = await wa.echo_visit(a.tunnels[f"t{i}"][1], payload)
                            if got != payload:
                                bad.append(f"agent {i}: echo returned {len(got)} bytes")
                        except (OSError, asyncio.TimeoutError) as e:
                            bad.append(f"agent {i}: {e!r}")

                t1 = time.monotonic()
                await asyncio.gather(*(visit(i, a) for i, a in enumerate(agents)))
                visited = time.monotonic() - t1
                self.assertEqual(bad[:10], [], f"{len(bad)} of {AGENTS} tunnels failed")

                extra = wa.WireAgent(h.LOOPBACK, server.agent_port, self.token)
                try:
                    await extra.connect()
                    refused = None
                except wa.Refused as r:
                    refused = r
                finally:
                    await extra.close()
                rss = h.proc_rss_kib(server.pid)
                return up, visited, refused, rss
            finally:
                await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)

        up, visited, refused, rss = asyncio.run(run())
        print(f"\n{AGENTS} agents up in {up:.1f} s, {AGENTS} tunnels verified in "
              f"{visited:.1f} s; server RSS {base_rss // 1024} -> {rss // 1024} MiB "
              f"({(rss - base_rss) / AGENTS:.1f} KiB per agent)", flush=True)
        self.assertIsNotNone(refused, f"agent {AGENTS + 1} was admitted")
        self.assertEqual(refused.code, "LIMIT", str(refused))
        self.assertIn("agent limit", refused.reason)
        h.wait_until(lambda: not server.find_events("agent_connected") or
                     server.count_events("agent_disconnected") >= AGENTS, timeout=60,
                     what="every agent session to end")
        self.assert_alive(server)


if __name__ == "__main__":
    unittest.main()
