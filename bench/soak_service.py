#!/usr/bin/python3
"""Local services behind the soak tunnels (bench/soak.py), one thread,
selectors, thousands of connections. Prints "PORT <n>" on stderr.

  soak_service.py echo   echoes every byte; half-closes after the peer does
  soak_service.py sink   reads and discards everything
"""
import selectors
import signal
import socket
import sys


def main():
    mode = sys.argv[1]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"PORT {ls.getsockname()[1]}", file=sys.stderr, flush=True)
    pending = {}  # conn -> bytes not yet written back (echo)
    buf = bytearray(1 << 20)
    while True:
        for key, events in sel.select():
            if key.data is None:
                while True:
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:  # EMFILE: keep serving the others
                        print(f"accept: {e}", file=sys.stderr, flush=True)
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "conn")
                continue
            c = key.fileobj
            if events & selectors.EVENT_WRITE:
                rest = pending[c]
                try:
                    n = c.send(rest)
                except BlockingIOError:
                    n = 0
                except OSError:
                    close(sel, pending, c)
                    continue
                rest = rest[n:]
                if rest:
                    pending[c] = rest
                    continue
                del pending[c]
                sel.modify(c, selectors.EVENT_READ, "conn")
                continue
            try:
                n = c.recv_into(buf)
            except BlockingIOError:
                continue
            except OSError:
                close(sel, pending, c)
                continue
            if n == 0:
                if mode == "echo":
                    try:
                        c.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                close(sel, pending, c)
                continue
            if mode != "echo":
                continue
            data = bytes(buf[:n])
            try:
                sent = c.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                close(sel, pending, c)
                continue
            if sent < n:
                # Stop reading until the peer took the rest (backpressure).
                pending[c] = data[sent:]
                sel.modify(c, selectors.EVENT_WRITE, "conn")


def close(sel, pending, c):
    pending.pop(c, None)
    try:
        sel.unregister(c)
    except (KeyError, ValueError):
        pass
    c.close()


if __name__ == "__main__":
    main()
