#!/usr/bin/python3
"""Helpers for bench/run.sh (stdlib only, run with /usr/bin/python3).

  hold_idle.py echo --port P
      Single-threaded echo server (selectors) on 127.0.0.1:P. It is the sink
      behind the "echo" tunnel used by the idle-connection memory test; it
      holds thousands of connections in one process without threads.

  hold_idle.py hold --port P --count N [--batch B] [--timeout S]
      Opens N TCP connections to 127.0.0.1:P, B at a time. Every connection
      sends one byte and must read it back (so it is verified to be relayed end
      to end, not just accepted by a listener), then stays open and idle.
      Prints "READY <n>" on stdout once all N are verified, then holds them
      until stdin closes or SIGTERM/SIGINT. Exits 1 (with a reason on stderr)
      if any connection fails or the deadline passes.

  hold_idle.py ports N
      Prints N distinct free TCP ports on 127.0.0.1 (all bound at once, so no
      duplicates), one per line.

  hold_idle.py portrange N
      Prints the first port of a block of N consecutive free ports below the
      ephemeral range (for the server's --public-ports).

  hold_idle.py agents --events FILE --opens N --times R --out FILE -- CMD...
      Runs the agent command CMD R times, one after the other. Each time it
      waits until FILE (a growing `reitunnelctl events watch -o json` output)
      shows N more allowed tunnel_open events, stops the agent (SIGTERM),
      waits for it to exit and for the server's client_disconnect event, then
      pauses 20 ms. The event lines seen meanwhile are copied to --out; the
      agents' output goes to --log. Exits 1 with a reason on stderr on a
      timeout or if an agent exits early.

  hold_idle.py openlat FILE...
      Reads `reitunnelctl events watch -o json` output (one event per line,
      server clock, ns resolution) and prints, pooled over all FILEs, one
      line per measure: "NAME COUNT P50_US P99_US MAX_US" (nearest rank).
        decision  tunnel_open event time - its request's context.time: the
                  time the server spent deciding (hooks asked, in order)
        gap       time between consecutive tunnel_open events of one agent
                  (an agent sends all its OpenTunnel frames at once and the
                  server handles them one by one, so this is the server's
                  whole cost per open, hook included)
        connect   first tunnel_open of an agent - its client_connect event
                  (after the agent was admitted: welcome, the agent's
                  OpenTunnel frame, the checks and the decision)
"""
import argparse
import errno
import os
import random
import selectors
import signal
import socket
import sys
import time


def cmd_echo(args):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        for key, _ in sel.select():
            if key.data is None:
                while True:
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:  # EMFILE etc.: keep serving others
                        print(f"echo: accept: {e}", file=sys.stderr)
                        break
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(c, selectors.EVENT_READ, "c")
            else:
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    c.close()
                    continue
                try:
                    c.sendall(data)  # tiny payloads in this bench; never blocks
                except OSError:
                    sel.unregister(c)
                    c.close()


def cmd_hold(args):
    deadline = time.monotonic() + args.timeout
    held = []
    sel = selectors.DefaultSelector()

    def fail(msg):
        print(f"hold: {msg} (verified {len(held)}/{args.count})", file=sys.stderr)
        sys.exit(1)

    remaining = args.count
    while remaining > 0:
        n = min(args.batch, remaining)
        pending = {}  # sock -> state: "connecting" | "sent"
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = s.connect_ex(("127.0.0.1", args.port))
            if err not in (0, errno.EINPROGRESS):
                fail(f"connect: {os.strerror(err)}")
            pending[s] = "connecting"
            sel.register(s, selectors.EVENT_WRITE)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"timeout with {len(pending)} connections unverified")
            for key, _ in sel.select(timeout=min(left, 1.0)):
                s = key.fileobj
                if pending[s] == "connecting":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        fail(f"connect: {os.strerror(err)}")
                    s.send(b"x")
                    pending[s] = "sent"
                    sel.modify(s, selectors.EVENT_READ)
                else:
                    try:
                        d = s.recv(16)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as e:
                        fail(f"recv: {e}")
                    if d != b"x":
                        fail(f"bad echo {d!r} (connection closed by relay?)")
                    sel.unregister(s)
                    del pending[s]
                    held.append(s)
        remaining -= n
    print(f"READY {len(held)}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sys.stdin.read()  # hold until the parent closes our stdin
    except KeyboardInterrupt:
        pass
    # Connections must still be alive: a relay that dropped idle visitors
    # would show up here as EOF.
    alive = 0
    for s in held:
        try:
            alive += 1 if s.recv(1, socket.MSG_PEEK) else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print(f"ALIVE {alive}", flush=True)


def cmd_ports(args):
    socks = []
    for _ in range(args.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    for s in socks:
        print(s.getsockname()[1])
    for s in socks:
        s.close()


def cmd_portrange(args):
    lo = 20000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except OSError:
        pass
    top = max(2000, lo - args.n - 1)
    for _ in range(200):
        base = random.randrange(1100, top)
        socks = []
        try:
            for p in range(base, base + args.n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            print(base)
            return
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    sys.exit("no free port block found")


class _Tail:
    """Complete lines appended to a file since the tail was created."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.buf = b""

    def lines(self):
        self.buf += self.f.read()
        *done, self.buf = self.buf.split(b"\n")
        return done


def cmd_agents(args):
    import subprocess
    tail = _Tail(args.events)
    out = open(args.out, "wb")
    log = open(args.log, "ab")
    child = None

    def stop(*_):
        if child and child.poll() is None:
            child.terminate()
        sys.exit(1)

    signal.signal(signal.SIGTERM, stop)

    def wait_for(kind, n, what, timeout=30):
        deadline = time.monotonic() + timeout
        seen = 0
        while seen < n:
            for line in tail.lines():
                out.write(line + b"\n")
                if b'"type":"%s"' % kind.encode() in line and (
                        kind != "tunnel_open" or b'"allowed":true' in line):
                    seen += 1
            if seen >= n:
                break
            if child.poll() is not None and kind == "tunnel_open":
                sys.exit(f"agents: agent exited ({child.returncode}) before {what}")
            if time.monotonic() > deadline:
                sys.exit(f"agents: timeout waiting for {what} ({seen} of {n} seen)")
            time.sleep(0.002)

    for i in range(args.times):
        child = subprocess.Popen(args.command, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT)
        wait_for("tunnel_open", args.opens, f"agent {i + 1}'s {args.opens} tunnel(s) to open")
        child.terminate()
        child.wait()
        wait_for("client_disconnect", 1, f"agent {i + 1}'s disconnect", timeout=15)
        time.sleep(0.02)
    out.close()


def _rfc3339_ns(s):
    """'2026-11-25T21:06:55.781944849Z' -> ns since the epoch (UTC)."""
    import calendar
    s = s.rstrip("Z")
    whole, _, frac = s.partition(".")
    t = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return t * 10**9 + int((frac or "0").ljust(9, "0")[:9])


def cmd_openlat(args):
    import json
    import math
    decision, gap, connect = [], [], []
    for path in args.files:
        last_open = {}     # client_id -> time of its previous tunnel_open
        connected = {}     # client_id -> time of its client_connect
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                cid = e.get("client_id", "")
                if e.get("type") == "client_connect":
                    connected[cid] = _rfc3339_ns(e["time"])
                if e.get("type") != "tunnel_open" or not e.get("allowed"):
                    continue
                t = _rfc3339_ns(e["time"])
                ctx = e.get("tunnel_open", {}).get("context", {}).get("time")
                if ctx:
                    decision.append((t - _rfc3339_ns(ctx)) / 1000)
                if cid in last_open:
                    gap.append((t - last_open[cid]) / 1000)
                elif cid in connected:
                    connect.append((t - connected[cid]) / 1000)
                last_open[cid] = t

    def pct(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]

    for name, v in (("decision", decision), ("gap", gap), ("connect", connect)):
        if v:
            print("%s %d %.1f %.1f %.1f" % (name, len(v), pct(v, 50), pct(v, 99), max(v)))
        else:
            print("%s 0 - - -" % name)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--port", type=int, required=True)
    h = sub.add_parser("hold")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--count", type=int, default=1000)
    h.add_argument("--batch", type=int, default=100)
    h.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    r = sub.add_parser("portrange")
    r.add_argument("n", type=int)
    a = sub.add_parser("agents")
    a.add_argument("--events", required=True)
    a.add_argument("--opens", type=int, required=True)
    a.add_argument("--times", type=int, default=1)
    a.add_argument("--out", required=True)
    a.add_argument("--log", default=os.devnull)
    a.add_argument("command", nargs="+")
    o = sub.add_parser("openlat")
    o.add_argument("files", nargs="+")
    args = ap.parse_args()
    {"echo": cmd_echo, "hold": cmd_hold, "ports": cmd_ports,
     "portrange": cmd_portrange, "openlat": cmd_openlat,
     "agents": cmd_agents}[args.cmd](args)


if __name__ == "__main__":
    main()
