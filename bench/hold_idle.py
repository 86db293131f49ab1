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
    args = ap.parse_args()
    {"echo": cmd_echo, "hold": cmd_hold, "ports": cmd_ports,
     "portrange": cmd_portrange}[args.cmd](args)


if __name__ == "__main__":
    main()
