#!/usr/bin/python3
"""Network fault injection on the agent <-> server link (issue 8, "Fault
injection"). Needs root, `ip` (iproute2) and /dev/net/tun. Prints figures
and PASS/FAIL per scenario; exit code 1 if any failed.

  bench/faults.py [SCENARIO...]

  netem      the agent and its local service run in a network namespace whose
             only way to the server is an impaired link: 100 ms delay each
             way, 5 % loss each way, 25 % of packets reordered (sent ahead of
             the delayed ones). Visitors (from the host) move data through
             the tunnel for a while. PASS: the session never drops, every
             byte comes back intact (SHA-256 per visitor).
  blackhole  the same link suddenly drops every packet (no RST, no ICMP).
             PASS: the server and the agent each detect it within the
             configured idle timeout (plus one heartbeat check), and the
             tunnel works again once the link is back.
  ci         the fault tests that also run in CI (tests/integration:
             test_faults, test_flood), run with these binaries for the
             figures they print.

Why not `tc qdisc netem`: this kernel has no sch_netem, so the impairment
is a userspace forwarder between two TUN devices (one in the namespace, one
on the host): every IP packet crosses it and is delayed, dropped or
reordered as netem would (per packet, independently per direction).

Binaries: $REITUNNEL_BIN_DIR, else build-bench/bin.
"""

import argparse
import fcntl
import hashlib
import heapq
import os
import random
import selectors
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness as h  # noqa: E402

PY = "/usr/bin/python3"
TOKEN = "faults-" + os.urandom(8).hex()
HOST_IP, NS_IP = "10.77.0.1", "10.77.0.2"
RESULTS = []


def log(msg):
    print(f"[faults {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def result(name, ok, figures):
    line = f"{'PASS' if ok else 'FAIL'} {name}: {figures}"
    RESULTS.append(line)
    print(line, flush=True)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


# ---------------------------------------------------------------------------
# The impaired link: a userspace netem between two TUN devices
# ---------------------------------------------------------------------------

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def forward(ns, host_dev, ns_dev):
    """The forwarder process. Commands on stdin, one per line:
    'set DELAY_MS LOSS REORDER' (LOSS, REORDER as fractions), 'blackhole 1|0',
    'stats' (prints a STATS line on stderr)."""
    host = open_tun(host_dev)
    inner = open_tun(ns_dev)
    ip("link", "set", ns_dev, "netns", ns)
    print("READY", file=sys.stderr, flush=True)
    cfg = {"delay": 0.0, "loss": 0.0, "reorder": 0.0, "blackhole": False}
    stats = {"forwarded": 0, "dropped": 0, "reordered": 0, "blackholed": 0}
    queue = []  # (due, seq, fd, packet)
    seq = 0
    rng = random.Random()
    sel = selectors.DefaultSelector()
    sel.register(host, selectors.EVENT_READ, inner)
    sel.register(inner, selectors.EVENT_READ, host)
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                line = sys.stdin.readline()
                if not line:
                    return
                words = line.split()
                if words[:1] == ["set"]:
                    cfg["delay"] = float(words[1]) / 1000
                    cfg["loss"] = float(words[2])
                    cfg["reorder"] = float(words[3])
                elif words[:1] == ["blackhole"]:
                    cfg["blackhole"] = words[1] == "1"
                elif words[:1] == ["stats"]:
                    print("STATS " + " ".join(f"{k}={v}" for k, v in stats.items()),
                          file=sys.stderr, flush=True)
                continue
            while True:
                try:
                    pkt = os.read(key.fileobj, 65536)
                except BlockingIOError:
                    break
                if cfg["blackhole"]:
                    stats["blackholed"] += 1
                    continue
                if rng.random() < cfg["loss"]:
                    stats["dropped"] += 1
                    continue
                due = time.monotonic()
                if cfg["delay"] and rng.random() >= cfg["reorder"]:
                    due += cfg["delay"]
                elif cfg["delay"]:
                    stats["reordered"] += 1
                seq += 1
                heapq.heappush(queue, (due, seq, key.data, pkt))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(queue)
            try:
                os.write(fd, pkt)
                stats["forwarded"] += 1
            except OSError:
                stats["dropped"] += 1


class Link:
    """A network namespace reachable from the host only through the
    forwarder."""

    def __init__(self):
        tag = f"{os.getpid() % 100000}"
        self.ns = f"rtf{tag}"
        self.host_dev, self.ns_dev = f"rtfh{tag}", f"rtfn{tag}"
        ip("netns", "add", self.ns)
        self.fwd = subprocess.Popen([PY, os.path.abspath(__file__), "_forward", self.ns,
                                     self.host_dev, self.ns_dev],
                                    stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.fwd.stderr.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"forwarder failed: {line}{self.fwd.stderr.read()}")
        ip("addr", "add", HOST_IP, "peer", NS_IP, "dev", self.host_dev)
        ip("link", "set", self.host_dev, "up")
        ip("-n", self.ns, "link", "set", "lo", "up")
        ip("-n", self.ns, "addr", "add", NS_IP, "peer", HOST_IP, "dev", self.ns_dev)
        ip("-n", self.ns, "link", "set", self.ns_dev, "up")

    def command(self, line):
        self.fwd.stdin.write(line + "\n")
        self.fwd.stdin.flush()

    def stats(self):
        self.command("stats")
        while True:
            line = self.fwd.stderr.readline()
            if line.startswith("STATS") or not line:
                return line.strip()[6:]

    def in_ns(self, argv):
        return ["ip", "netns", "exec", self.ns] + argv

    def close(self):
        try:
            self.fwd.stdin.close()
        except OSError:
            pass
        self.fwd.kill()
        self.fwd.wait()
        ip("netns", "del", self.ns, check=False)
        ip("link", "del", self.host_dev, check=False)


class Stack:
    """Server on the host; agent and its echo service inside the link's
    namespace."""

    def __init__(self, link, server_config=None, tunnels=2):
        self.link = link
        self.procs = []
        self.ports = h.free_port_range(tunnels + 2)
        self.echo = self._spawn("echo", link.in_ns(
            [PY, os.path.join(HERE, "soak_service.py"), "echo"]))
        self.echo_port = int(self.echo.wait_for_line(lambda l: l.startswith("PORT ")).split()[1])
        cfg = h.deep_merge({"public_bind_addr": h.LOOPBACK}, server_config or {})
        self.cfg_path = f"/tmp/reitunnel-faults-{os.getpid()}.yaml"
        with open(self.cfg_path, "w") as f:
            f.write(h.to_yaml(cfg) + "\n")
        self.server = self._spawn("server", [
            h.binary("reitunneld"), f"--listen={HOST_IP}:0", f"--admin={h.LOOPBACK}:0",
            f"--token={TOKEN}", f"--public-ports={self.ports.spec}", "--log-format=json",
            f"--config={self.cfg_path}"])
        ev = self.server.wait_for_event("agent_listener_ready")
        self.agent_port = h.parse_addr(ev["addr"])[1]
        specs = [f"--tunnel=t{i}=0:127.0.0.1:{self.echo_port}" for i in range(tunnels)]
        self.agent = self._spawn("agent", link.in_ns([
            h.binary("reitunnel"), f"--server={HOST_IP}:{self.agent_port}",
            f"--token={TOKEN}", "--log-format=json", *specs]))
        self.public = [self.agent.tunnel_port(f"t{i}", timeout=60) for i in range(tunnels)]

    def _spawn(self, name, argv):
        p = (h.AgentProc if name == "agent" else h.Proc)(name, argv)
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
        try:
            os.unlink(self.cfg_path)
        except OSError:
            pass


def log_time(ev):
    """Wall-clock seconds of a JSON log line's "ts" (UTC, RFC 3339)."""
    import calendar  # noqa: PLC0415
    stamp, _, frac = ev["ts"].rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def checked_visitor(port, size, timeout=120):
    payload = os.urandom(size)
    got = h.echo_roundtrip(port, payload, timeout=timeout)
    return hashlib.sha256(got).digest() == hashlib.sha256(payload).digest(), len(got)


def scenario_netem(args):
    link = Link()
    st = None
    try:
        st = Stack(link)
        link.command(f"set {args.delay_ms} {args.loss} {args.reorder}")
        mark = st.agent.event_mark()
        smark = st.server.event_mark()
        failures, moved, done = [], [0], [0]
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds
        sizes = [1024, 16384, 262144, 1 << 20]

        def visitor_loop(k):
            i = 0
            while time.monotonic() < deadline:
                size = sizes[(i + k) % len(sizes)]
                i += 1
                try:
                    ok, n = checked_visitor(st.public[k % len(st.public)], size)
                except (OSError, AssertionError) as e:
                    ok, n = False, repr(e)
                with lock:
                    done[0] += 1
                    if ok:
                        moved[0] += 2 * size
                    else:
                        failures.append(f"visitor of {size} bytes: {n}")

        t0 = time.monotonic()
        threads = [threading.Thread(target=visitor_loop, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        drops = st.agent.count_events("disconnected", since=mark)
        server_drops = st.server.count_events("agent_disconnected", since=smark)
        stats = link.stats()
        ok = not failures and drops == 0 and server_drops == 0 and done[0] > 0
        result("netem", ok,
               f"{args.delay_ms} ms delay, {args.loss:.0%} loss, {args.reorder:.0%} reordered "
               f"each way for {took:.0f} s: {done[0]} visitors, {moved[0] / 1e6:.1f} MB echoed, "
               f"{len(failures)} failed or corrupted; session drops agent={drops} "
               f"server={server_drops}; link {stats}")
        for f in failures[:5]:
            log(f"netem: {f}")
    finally:
        if st:
            st.close()
        link.close()


def scenario_blackhole(args):
    link = Link()
    st = None
    idle_ms, hb_ms = args.idle_ms, args.idle_ms // 4
    try:
        st = Stack(link, server_config={"timeouts": {"idle_ms": idle_ms,
                                                     "heartbeat_interval_ms": hb_ms}},
                   tunnels=1)
        port = st.public[0]
        h.wait_tunnel_works(port, timeout=30)
        amark, smark = st.agent.event_mark(), st.server.event_mark()
        link.command("blackhole 1")
        t0 = time.time()
        wait = idle_ms / 1000 * 3 + 10
        server_ev = st.server.wait_for_event("agent_disconnected", since=smark, timeout=wait)
        agent_ev = st.agent.wait_for_event("disconnected", since=amark, timeout=wait)
        # Each side's own log timestamp of its detection.
        server_t = log_time(server_ev) - t0
        agent_t = log_time(agent_ev) - t0
        link.command("blackhole 0")
        t1 = time.monotonic()
        h.wait_tunnel_works(port, timeout=120)
        back = time.monotonic() - t1
        bound = idle_ms / 1000 * 1.25 + 1.0  # the idle check runs every idle/4
        ok = server_t <= bound and agent_t <= bound + hb_ms / 1000
        result("blackhole", ok,
               f"idle timeout {idle_ms} ms: server dropped the session after {server_t:.1f} s "
               f"({server_ev.get('reason')!r}), agent after {agent_t:.1f} s "
               f"({agent_ev.get('reason')!r}); bound {bound:.1f} s; tunnel back "
               f"{back:.1f} s after the link returned")
    finally:
        if st:
            st.close()
        link.close()


def scenario_ci(args):
    env = dict(os.environ, REITUNNEL_BIN_DIR=h.bin_dir(), PYTHONDONTWRITEBYTECODE="1",
               REITUNNEL_HOOK_STUBS=os.path.join(os.path.dirname(h.bin_dir()), "python"))
    for module in ("test_faults", "test_flood"):
        t0 = time.monotonic()
        p = subprocess.run([PY, "-m", "unittest", "-v", module],
                           cwd=os.path.join(ROOT, "tests", "integration"), env=env,
                           capture_output=True, text=True, timeout=900)
        figures = [l.strip() for l in p.stdout.splitlines() if l.strip() and ":" in l]
        result(module, p.returncode == 0,
               "; ".join(figures) + f" (rc={p.returncode}, {time.monotonic() - t0:.0f} s)")
        if p.returncode != 0:
            sys.stderr.write(p.stderr[-3000:])


SCENARIOS = {"netem": scenario_netem, "blackhole": scenario_blackhole, "ci": scenario_ci}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_forward":
        forward(*sys.argv[2:5])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                    help=f"any of {', '.join(SCENARIOS)} (default: all)")
    ap.add_argument("--seconds", type=float, default=45, help="netem: traffic duration")
    ap.add_argument("--delay-ms", type=int, default=100)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--reorder", type=float, default=0.25)
    ap.add_argument("--idle-ms", type=int, default=6000, help="blackhole: server idle timeout")
    args = ap.parse_args()
    for name in args.scenarios:
        if name not in SCENARIOS:
            ap.error(f"unknown scenario {name!r}")
    if "REITUNNEL_BIN_DIR" not in os.environ:
        os.environ["REITUNNEL_BIN_DIR"] = os.path.join(ROOT, "build-bench", "bin")
    h.binary("reitunneld")
    names = args.scenarios or list(SCENARIOS)
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        for name in names:
            if name != "ci":
                result(name, False, "SKIPPED: needs root and /dev/net/tun")
        names = [n for n in names if n == "ci"]
    log(f"binaries: {h.bin_dir()}; machine: {os.cpu_count()} CPUs, {os.uname().release}")
    for name in names:
        log(f"running {name}")
        try:
            SCENARIOS[name](args)
        except Exception as e:  # noqa: BLE001 - a crashed scenario is a FAIL
            result(name, False, f"scenario crashed: {e!r}")
    print("\n".join(["", "summary:"] + RESULTS))
    return 0 if all(r.startswith("PASS") for r in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
