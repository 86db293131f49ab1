#!/usr/bin/python3
"""Soak and load runs of the real binaries on loopback (issue 8). Not tests:
each scenario prints its figures and PASS or FAIL, and the exit code is 1 if
any failed. Bounded in time; run on an otherwise quiet machine.

  bench/soak.py [SCENARIO...] [--visitors N] [--churn N] [--slow N]

  hold       N (default 10,000) visitor connections held open at once through
             one tunnel, each verified by an echo when it opens and again
             once all are open; RSS per connection of the server and the
             agent (VmRSS delta / N). PASS: every echo right, < 20 KiB per
             connection on each side.
  churn      N (default 100,000) short visitor connections (64 random bytes
             echoed, checked), 64 at a time; then RSS and open fds of both
             processes, once the agent's pool has shrunk back, against the
             baseline taken after a warm-up. PASS: every echo right, RSS
             within +8 MiB and fds within +8 of the baseline.
  slowloris  bulk throughput through a tunnel alone, then while N (default
             2,000) agent-port connections that never finish their handshake
             are held open (reopened as the server closes them) from 20
             other loopback addresses, then again after the flood stopped;
             with the CPU of both daemons and of the flooding client (on
             the same cores here) in each window. PASS: ratio
             during/before >= 0.8.
  fleet      2,000 fake agents each with a working tunnel and the 2,001st
             refused (tests/integration/test_load.py, run here with the
             bench binaries).

Binaries: $REITUNNEL_BIN_DIR, else build-bench/bin (bench/run.sh builds a
Release tree there; the sanitizer build would distort every figure). The
script runs as root to raise the hard fd limit (10,000 visitors need about
20,000 fds in the server: the visitor's socket and its data connection;
relay pipes are held only while data moves).
"""

import argparse
import asyncio
import hashlib
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness as h  # noqa: E402
import wire_agent as wa  # noqa: E402

PY = "/usr/bin/python3"
TOKEN = "soak-" + os.urandom(8).hex()
RESULTS = []


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def result(name, ok, figures):
    line = f"{'PASS' if ok else 'FAIL'} {name}: {figures}"
    RESULTS.append(line)
    print(line, flush=True)


def rss_kib(pid):
    return h.proc_rss_kib(pid)


def fds(pid):
    return h.proc_fd_count(pid)


class Stack:
    """reitunneld + reitunnel + a local service, as processes."""

    def __init__(self, service_argv, tunnels=1, server_config=None, workers=None):
        self.procs = []
        self.tmp = h.tempfile.mkdtemp(prefix="reitunnel-soak-")
        self.ports = h.free_port_range(max(tunnels, 2) + 2)
        self.service = self._spawn("service", service_argv)
        self.service_port = int(self.service.wait_for_line(
            lambda l: l.startswith("PORT "), what="service port").split()[1])
        cfg = h.deep_merge({"public_bind_addr": h.LOOPBACK}, server_config or {})
        cfg_path = os.path.join(self.tmp, "server.yaml")
        with open(cfg_path, "w") as f:
            f.write(h.to_yaml(cfg) + "\n")
        wflag = [f"--workers={workers}"] if workers else []
        self.server = self._spawn("server", [
            h.binary("reitunneld"), f"--listen={h.LOOPBACK}:0", f"--admin={h.LOOPBACK}:0",
            f"--token={TOKEN}", f"--public-ports={self.ports.spec}", "--log-format=json",
            f"--config={cfg_path}", *wflag])
        ev = self.server.wait_for_event("agent_listener_ready")
        self.agent_port = h.parse_addr(ev["addr"])[1]
        self.admin_addr = self.server.wait_for_event("admin_listener_ready")["addr"]
        specs = [f"--tunnel=t{i}=0:{h.LOOPBACK}:{self.service_port}" for i in range(tunnels)]
        self.agent = self._spawn("agent", [
            h.binary("reitunnel"), f"--server={h.LOOPBACK}:{self.agent_port}",
            f"--token={TOKEN}", "--log-format=json", *specs, *wflag])
        self.public = [self.agent.tunnel_port(f"t{i}") for i in range(tunnels)]

    def _spawn(self, name, argv):
        p = h.AgentProc(name, argv) if name == "agent" else h.Proc(name, argv)
        self.procs.append(p)
        return p

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            p.kill()
        self.ports.release()


ECHO_SERVICE = [PY, os.path.join(HERE, "soak_service.py"), "echo"]
SINK_SERVICE = [PY, os.path.join(HERE, "soak_service.py"), "sink"]


# ---------------------------------------------------------------------------
# hold: N concurrent visitors
# ---------------------------------------------------------------------------

async def open_and_verify(port, n, concurrency=200):
    conns = [None] * n
    errors = []
    sem = asyncio.Semaphore(concurrency)

    async def one(i):
        async with sem:
            try:
                r, w = await wa.open_connection(h.LOOPBACK, port, timeout=30)
                b = bytes([i % 251])
                w.write(b)
                await w.drain()
                got = await asyncio.wait_for(r.readexactly(1), 30)
                if got != b:
                    errors.append(f"visitor {i}: echo {got!r}")
                conns[i] = (r, w)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                errors.append(f"visitor {i}: {e!r}")

    await asyncio.gather(*(one(i) for i in range(n)))
    return conns, errors


async def verify_all(conns, concurrency=500):
    errors = []
    sem = asyncio.Semaphore(concurrency)

    async def one(i, c):
        if c is None:
            return
        r, w = c
        async with sem:
            try:
                payload = os.urandom(16)
                w.write(payload)
                await w.drain()
                got = await asyncio.wait_for(r.readexactly(16), 30)
                if got != payload:
                    errors.append(f"visitor {i}: second echo mismatch")
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                errors.append(f"visitor {i}: second echo {e!r}")

    await asyncio.gather(*(one(i, c) for i, c in enumerate(conns)))
    return errors


def scenario_hold(args):
    n = args.visitors
    st = Stack(ECHO_SERVICE, server_config={"limits": {"max_visitors_per_tunnel": n + 1000}},
               workers=args.workers)
    try:
        port = st.public[0]
        # Warm-up (pool growth, allocator arenas), then the baseline.
        for _ in range(20):
            h.tunnel_works(port, size=64)
        time.sleep(1)
        base = {p.name: rss_kib(p.pid) for p in (st.server, st.agent)}
        base_fds = {p.name: fds(p.pid) for p in (st.server, st.agent)}

        async def run():
            t0 = time.monotonic()
            conns, errors = await open_and_verify(port, n)
            opened = time.monotonic() - t0
            held = sum(1 for c in conns if c is not None)
            await asyncio.sleep(1)
            rss = {p.name: rss_kib(p.pid) for p in (st.server, st.agent)}
            nfds = {p.name: fds(p.pid) for p in (st.server, st.agent)}
            errors2 = await verify_all(conns)
            for c in conns:
                if c is not None:
                    wa.close_writer(c[1])
            return opened, held, errors, errors2, rss, nfds

        opened, held, errors, errors2, rss, nfds = asyncio.run(run())
        per = {k: (rss[k] - base[k]) / n for k in rss}
        ok = not errors and not errors2 and held == n and all(v < 20 for v in per.values())
        result("hold", ok,
               f"{held}/{n} visitors open at once, all echoed on open "
               f"({len(errors)} failed) and again while all held ({len(errors2)} failed); "
               f"opened in {opened:.1f} s; RSS per connection: server {per['server']:.1f} KiB "
               f"({base['server'] // 1024}->{rss['server'] // 1024} MiB), agent "
               f"{per['agent']:.1f} KiB ({base['agent'] // 1024}->{rss['agent'] // 1024} MiB); "
               f"fds server {base_fds['server']}->{nfds['server']}, agent "
               f"{base_fds['agent']}->{nfds['agent']}")
        for e in (errors + errors2)[:5]:
            log(f"hold: {e}")
    finally:
        st.close()


# ---------------------------------------------------------------------------
# churn: N short visitors, then back to the baseline
# ---------------------------------------------------------------------------

async def churn(port, n, concurrency=64, sources=8):
    errors = []
    done = [0]
    counter = iter(range(n))

    async def worker(k):
        src = f"127.0.0.{10 + k % sources}"
        for i in counter:
            payload = os.urandom(64)
            try:
                r, w = await wa.open_connection(h.LOOPBACK, port, src, timeout=30)
                try:
                    w.write(payload)
                    await w.drain()
                    w.write_eof()
                    got = await asyncio.wait_for(r.read(), 30)
                finally:
                    wa.close_writer(w)
                if got != payload:
                    errors.append(f"visitor {i}: echo {len(got)} bytes")
            except (OSError, asyncio.TimeoutError) as e:
                errors.append(f"visitor {i}: {e!r}")
            done[0] += 1

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return errors


def scenario_churn(args):
    n = args.churn
    st = Stack(ECHO_SERVICE, server_config={"timeouts": {"heartbeat_interval_ms": 2000}},
               workers=args.workers)
    try:
        port = st.public[0]
        asyncio.run(churn(port, 2000))
        settle(st)
        base = {p.name: (rss_kib(p.pid), fds(p.pid)) for p in (st.server, st.agent)}
        t0 = time.monotonic()
        errors = asyncio.run(churn(port, n))
        took = time.monotonic() - t0
        after = settle(st, base)
        drift = {k: (after[k][0] - base[k][0], after[k][1] - base[k][1]) for k in base}
        ok = not errors and all(r <= 8 * 1024 and f <= 8 for r, f in drift.values())
        result("churn", ok,
               f"{n - len(errors)}/{n} short visitors echoed in {took:.1f} s "
               f"({n / took:.0f}/s); after: server RSS {drift['server'][0]:+d} KiB, "
               f"fds {drift['server'][1]:+d}; agent RSS {drift['agent'][0]:+d} KiB, "
               f"fds {drift['agent'][1]:+d} (baseline server {base['server'][0] // 1024} MiB/"
               f"{base['server'][1]} fds, agent {base['agent'][0] // 1024} MiB/"
               f"{base['agent'][1]} fds)")
        for e in errors[:5]:
            log(f"churn: {e}")
    finally:
        st.close()


def settle(st, base=None, timeout=90):
    """Waits until both processes' fd counts stop falling (the pool shrinks
    over a few heartbeats), or are back at `base`; returns (rss, fds)."""
    deadline = time.monotonic() + timeout
    last = None
    stable = 0
    while time.monotonic() < deadline:
        now = {p.name: (rss_kib(p.pid), fds(p.pid)) for p in (st.server, st.agent)}
        if base and all(now[k][1] <= base[k][1] for k in now):
            return now
        if last and all(now[k][1] == last[k][1] for k in now):
            stable += 1
            if stable >= 8 and not base:
                return now
        else:
            stable = 0
        last = now
        time.sleep(1)
    return last


# ---------------------------------------------------------------------------
# slowloris: handshakes that never finish, while a tunnel relays bulk data
# ---------------------------------------------------------------------------

def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def bulk_throughput(port, seconds, watch=()):
    """Sends as fast as possible through the tunnel to the sink for
    `seconds`; returns (MB/s, {name: % of one core}) for the processes in
    `watch` ((name, pid) pairs) over the same window."""
    s = h.connect(port)
    buf = os.urandom(1 << 20)
    sent = 0
    hz = os.sysconf("SC_CLK_TCK")
    ticks0 = {name: cpu_ticks(pid) for name, pid in watch}
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s.sendall(buf)
        sent += len(buf)
    took = time.monotonic() - t0
    cpu = {name: 100.0 * (cpu_ticks(pid) - ticks0[name]) / hz / took for name, pid in watch}
    s.close()
    return sent / took / 1e6, cpu


def scenario_slowloris(args):
    st = Stack(SINK_SERVICE, workers=args.workers)
    flood = None
    try:
        port = st.public[0]
        watch = [("server", st.server.pid), ("agent", st.agent.pid)]
        bulk_throughput(port, 1)  # warm-up
        before, cpu_before = bulk_throughput(port, args.seconds, watch)
        base_fds = fds(st.server.pid)
        flood = h.Proc("slowloris", [PY, os.path.abspath(__file__), "_slow", str(st.agent_port),
                                     str(args.slow)])
        flood.wait_for_line(lambda l: l.startswith("HOLDING"), timeout=60, what="flood up")
        during, cpu_during = bulk_throughput(port, args.seconds,
                                             watch + [("flood client", flood.pid)])
        flood.signal(signal.SIGUSR1)
        line = flood.wait_for_line(lambda l: l.startswith("STATS"), timeout=30, what="stats")
        # "After" is after the flood: its client is gone and the server has
        # closed what it held.
        flood.kill()
        flood = None
        h.wait_until(lambda: fds(st.server.pid) <= base_fds + 16, 30,
                     "the server to close the flood's connections")
        after, cpu_after = bulk_throughput(port, args.seconds, watch)
        ratio = during / before if before else 0

        def cores(cpu):
            return ", ".join(f"{k} {v:.0f}%" for k, v in cpu.items())

        ok = ratio >= 0.8
        result("slowloris", ok,
               f"{args.slow} never-finishing handshakes held ({line.split(' ', 1)[1]}); bulk "
               f"through the tunnel: {before:.0f} MB/s before, {during:.0f} MB/s during "
               f"(ratio {ratio:.2f}), {after:.0f} MB/s after the flood stopped; CPU % of one "
               f"core before: {cores(cpu_before)}; during: {cores(cpu_during)}; after: "
               f"{cores(cpu_after)}")
    finally:
        if flood:
            flood.kill()
        st.close()


def slow_flood(agent_port, n):
    """Helper process: keeps `n` never-finishing handshakes open against the
    agent port from 127.0.0.20-39, reopening each one the server closes.
    Prints HOLDING once all are open, STATS on SIGUSR1."""
    wa.raise_fd_limit(n + 512)
    opened = [0]
    closed = [0]
    stop = asyncio.Event()

    async def one(src):
        while not stop.is_set():
            try:
                r, w = await wa.open_connection(h.LOOPBACK, agent_port, src, timeout=10)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)
                continue
            opened[0] += 1
            try:
                w.write(b"RT\x01")  # a partial header, never completed
                while await r.read(4096):
                    pass
            except OSError:
                pass
            closed[0] += 1
            wa.close_writer(w)

    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: print(
            f"STATS {opened[0]} connections opened, {closed[0]} closed by the server",
            file=sys.stderr, flush=True))
        tasks = [asyncio.ensure_future(one(f"127.0.0.{20 + i % 20}")) for i in range(n)]
        while opened[0] < n:
            await asyncio.sleep(0.1)
        print("HOLDING", file=sys.stderr, flush=True)
        await asyncio.gather(*tasks)

    asyncio.run(main())


# ---------------------------------------------------------------------------

def scenario_fleet(args):
    env = dict(os.environ, REITUNNEL_BIN_DIR=h.bin_dir(), PYTHONDONTWRITEBYTECODE="1")
    if args.workers:
        env["REITUNNEL_TEST_WORKERS"] = str(args.workers)
    t0 = time.monotonic()
    p = subprocess.run([PY, "-m", "unittest", "-v", "test_load"], cwd=os.path.join(
        ROOT, "tests", "integration"), env=env, capture_output=True, text=True, timeout=900)
    figures = [l for l in p.stdout.splitlines() if "agents up" in l]
    result("fleet", p.returncode == 0,
           (figures[0].strip() if figures else "no figures") +
           f" (test_load rc={p.returncode}, {time.monotonic() - t0:.0f} s)")
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-3000:])


SCENARIOS = {"hold": scenario_hold, "churn": scenario_churn, "slowloris": scenario_slowloris,
             "fleet": scenario_fleet}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_slow":
        slow_flood(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                    help=f"any of {', '.join(SCENARIOS)} (default: all)")
    ap.add_argument("--visitors", type=int, default=10000)
    ap.add_argument("--churn", type=int, default=100000)
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=5.0, help="per throughput measurement")
    ap.add_argument("--workers", type=int, default=0, help="--workers of both daemons")
    args = ap.parse_args()
    for name in args.scenarios:
        if name not in SCENARIOS:
            ap.error(f"unknown scenario {name!r}")
    if "REITUNNEL_BIN_DIR" not in os.environ:
        os.environ["REITUNNEL_BIN_DIR"] = os.path.join(ROOT, "build-bench", "bin")
    h.binary("reitunneld")
    # Children inherit the limits and raise their soft limit to the hard one.
    want = 6 * max(args.visitors, args.slow) + 4096
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log(f"could not raise the fd limit to {want} (not root?); using {hard}")
    log(f"binaries: {h.bin_dir()}; machine: {os.cpu_count()} CPUs, {os.uname().release}")
    for name in args.scenarios or ["hold", "churn", "slowloris", "fleet"]:
        log(f"running {name}")
        try:
            SCENARIOS[name](args)
        except Exception as e:  # noqa: BLE001 - a crashed scenario is a FAIL
            result(name, False, f"scenario crashed: {e!r}")
    print("\n".join(["", "summary:"] + RESULTS))
    return 0 if all(r.startswith("PASS") for r in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
