"""Shared harness for Reitunnel integration tests.

Runs the real `reitunneld` / `reitunnel` binaries as processes on loopback.
Standard library only; run with /usr/bin/python3.

Conventions
- Binaries are found in $REITUNNEL_BIN_DIR (set by ctest), else
  <repo>/build/bin.
- Nothing here sleeps for synchronization: everything polls with a deadline
  (`wait_until`) and fails with a message saying what was awaited.
- Every process, socket and helper server is registered for cleanup and is
  killed/closed even when the test fails; on failure the tail of every
  process's stderr is printed.
- Every test gets a distinctive token ("s3cr3t-<hex>"); at cleanup, no line
  any process wrote may contain it (or any other registered secret).
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# Generous: binaries may be built with ASan+UBSan (2-3x slower). These only
# matter when something is broken.
DEFAULT_TIMEOUT = float(os.environ.get("REITUNNEL_TEST_TIMEOUT", "30"))
# ctest runs the suite twice: with one worker thread per daemon and with
# several (--workers), so both the single-loop and the cross-worker paths
# (fd hand-over, sharded pools) are exercised by every test.
WORKERS = os.environ.get("REITUNNEL_TEST_WORKERS", "")
# How agents reach servers: tcp, or a WebSocket link directly or through a
# proxy (agent_link.py lists them); ctest runs relay and recovery per link.
LINK = os.environ.get("REITUNNEL_TEST_LINK", "tcp")
LOOPBACK = "127.0.0.1"

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))


def bin_dir():
    return os.environ.get("REITUNNEL_BIN_DIR") or os.path.join(_REPO, "build", "bin")


def binary(name):
    path = os.path.join(bin_dir(), name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(
            f"binary {name!r} not found at {path} (set REITUNNEL_BIN_DIR or build the "
            f"'{name}' target)")
    return path


# ---------------------------------------------------------------------------
# Polling
# ---------------------------------------------------------------------------

class WaitTimeout(AssertionError):
    pass


def wait_until(pred, timeout=DEFAULT_TIMEOUT, what="condition", interval=0.02):
    """Polls pred() until it returns a truthy value, which is returned.

    Exceptions raised by pred are treated as "not yet" and the last one is
    reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.1f}s waiting for {what}"
            if last_exc is not None:
                msg += f" (last error: {last_exc!r})"
            raise WaitTimeout(msg)
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

_LOCK_DIR = os.path.join(tempfile.gettempdir(), "reitunnel-it-ports")


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_free(port):
    """True if nothing is bound to `port` on any address (strict: no
    SO_REUSEADDR, so TIME_WAIT leftovers also count as taken)."""
    for fam, addr in ((socket.AF_INET, "0.0.0.0"),):
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


class PortRange:
    """A window of consecutive ports that were all free when probed.

    Holds an flock on a per-window lock file so that concurrently running
    test processes (ctest -j) never get the same window.
    """

    def __init__(self, low, high, lock_fd):
        self.low = low
        self.high = high
        self._lock_fd = lock_fd

    @property
    def spec(self):
        return f"{self.low}-{self.high}"

    def __contains__(self, port):
        return self.low <= port <= self.high

    def ports(self):
        return list(range(self.low, self.high + 1))

    def release(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __repr__(self):
        return f"PortRange({self.spec})"


def free_port_range(size=20, attempts=500):
    """Finds `size` consecutive ports, all currently free, outside the
    kernel's ephemeral range (so outgoing connections made during the test
    cannot take them), inside 20000-65000."""
    os.makedirs(_LOCK_DIR, exist_ok=True)
    eph_lo, eph_hi = _ephemeral_range()
    candidates = []
    for low in range(20000, 65000 - size, size):
        high = low + size - 1
        if high < eph_lo or low > eph_hi:
            candidates.append(low)
    if not candidates:  # ephemeral range covers everything: take what we can
        candidates = list(range(20000, 65000 - size, size))
    rng = random.Random()
    for _ in range(attempts):
        low = rng.choice(candidates)
        high = low + size - 1
        fd = os.open(os.path.join(_LOCK_DIR, f"{low}.lock"), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if all(_port_is_free(p) for p in range(low, high + 1)):
            return PortRange(low, high, fd)
        os.close(fd)
    raise AssertionError(f"could not find {size} consecutive free ports")


def unused_port():
    """A port nobody listens on right now (bound to 0, then closed)."""
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def reserve_refusing_port():
    """A socket bound to a loopback port but NOT listening: connections to it
    are refused, and nobody else can take the port. Call .listen() later to
    turn it into a live service without any race."""
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    return s


def can_bind(port, host=LOOPBACK):
    """True if a fresh listener (with SO_REUSEADDR, as any server would use)
    can bind and listen on host:port, i.e. nobody listens on it any more."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def parse_addr(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

class Proc:
    """A child process whose stderr (and stdout) is captured line by line.

    stderr lines are kept raw in `lines`; those that parse as a JSON object
    are also kept in `events` (dicts). `wait_for_event` polls these.
    """

    # Product processes (server, agent) are stopped with SIGTERM at test
    # cleanup and must exit 0; helpers are just killed.
    graceful_at_cleanup = False

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.lines = []        # raw stderr lines (str, no newline)
        self.stdout_lines = []
        self.events = []       # parsed JSON objects from stderr
        self._cond = threading.Condition()
        self._eof = {"stderr": False, "stdout": False}
        full_env = dict(os.environ)
        # Sanitizer builds: make reports go to stderr, fail loudly.
        full_env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        full_env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if env:
            full_env.update(env)
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=full_env, cwd=cwd)
        self.pid = self.popen.pid
        self._threads = [
            threading.Thread(target=self._reader, args=(self.popen.stderr, "stderr"),
                             daemon=True, name=f"{name}-stderr"),
            threading.Thread(target=self._reader, args=(self.popen.stdout, "stdout"),
                             daemon=True, name=f"{name}-stdout"),
        ]
        for t in self._threads:
            t.start()

    def _reader(self, stream, which):
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                ev = None
                if which == "stderr" and line.startswith("{"):
                    try:
                        obj = json.loads(line)
                        if isinstance(obj, dict):
                            ev = obj
                    except ValueError:
                        pass
                with self._cond:
                    if which == "stderr":
                        self.lines.append(line)
                        if ev is not None:
                            self.events.append(ev)
                    else:
                        self.stdout_lines.append(line)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._eof[which] = True
                self._cond.notify_all()

    # -- state --------------------------------------------------------------

    def alive(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def all_output_lines(self):
        with self._cond:
            return list(self.lines) + list(self.stdout_lines)

    def tail(self, n=60):
        with self._cond:
            return list(self.lines[-n:])

    def describe(self, n=60):
        rc = self.popen.poll()
        state = "running" if rc is None else f"exited rc={rc}"
        out = [f"----- {self.name} (pid {self.pid}, {state}) last {n} stderr lines -----"]
        out.extend(self.tail(n))
        with self._cond:
            if self.stdout_lines:
                out.append(f"----- {self.name} stdout (last 20) -----")
                out.extend(self.stdout_lines[-20:])
        return "\n".join(out)

    # -- events -------------------------------------------------------------

    def find_events(self, event, pred=None, since=0):
        with self._cond:
            evs = self.events[since:]
        return [e for e in evs if e.get("event") == event and (pred is None or pred(e))]

    def count_events(self, event, pred=None, since=0):
        return len(self.find_events(event, pred, since))

    def event_mark(self):
        """Index to pass as `since` to only see events logged after now."""
        with self._cond:
            return len(self.events)

    def line_mark(self):
        with self._cond:
            return len(self.lines)

    def wait_for_event(self, event, pred=None, timeout=DEFAULT_TIMEOUT, since=0):
        """Returns the first matching event logged at index >= since.

        Fails early (with the stderr tail) if the process exits and its
        stderr is drained without the event appearing."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events[since:]:
                    if e.get("event") == event and (pred is None or pred(e)):
                        return e
                if self._eof["stderr"] and self.popen.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited (rc={self.popen.poll()}) without logging "
                        f"event {event!r}\n{self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(
                        f"timed out after {timeout:.1f}s waiting for {self.name} to log "
                        f"event {event!r}\n{self.describe()}")
                self._cond.wait(min(remaining, 0.2))

    def wait_for_line(self, pred, timeout=DEFAULT_TIMEOUT, since=0, what="line"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if pred(line):
                        return line
                if self._eof["stderr"] and self.popen.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited without printing {what}\n{self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"timed out waiting for {self.name} to print {what}\n"
                                      f"{self.describe()}")
                self._cond.wait(min(remaining, 0.2))

    # -- lifecycle ----------------------------------------------------------

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        """Waits for exit, then for stderr/stdout to be fully drained.
        Returns the exit code; raises on timeout."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout(f"{self.name} did not exit within {timeout:.1f}s\n"
                              f"{self.describe()}") from None
        self.drain(timeout=10)
        return rc

    def drain(self, timeout=10):
        for t in self._threads:
            t.join(timeout)

    def signal(self, sig):
        if self.alive():
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass

    def terminate(self):
        self.signal(signal.SIGTERM)

    def kill(self):
        """SIGKILL (works on stopped processes too) and reap."""
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.drain(timeout=5)
        for stream in (self.popen.stdout, self.popen.stderr):
            with contextlib.suppress(Exception):
                stream.close()


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def proc_fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class ServerProc(Proc):
    graceful_at_cleanup = True

    agent_addr = None
    agent_port = None
    ws_addr = None
    ws_port = None
    admin_addr = None
    admin_port = None
    port_range = None


class AgentProc(Proc):
    graceful_at_cleanup = True

    client_id = None
    # tunnel name -> remote port, from the agent's tunnel_open events
    remote_ports = None

    def tunnel_port(self, name, timeout=DEFAULT_TIMEOUT, since=0):
        ev = self.wait_for_event("tunnel_open", lambda e: e.get("name") == name,
                                 timeout=timeout, since=since)
        return int(ev["remote_port"])


# ---------------------------------------------------------------------------
# Local services
# ---------------------------------------------------------------------------

class _ThreadedServer:
    """Accept loop in a thread; one handler thread per connection."""

    def __init__(self, sock=None, name="svc"):
        if sock is None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, 0))
        self.sock = sock
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.name = name
        self._lock = threading.Lock()
        self._conns = set()
        self.accepted = 0
        self.errors = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"{name}-accept")
        self._thread.start()

    def _accept_loop(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._conns.add(conn)
                self.accepted += 1
            threading.Thread(target=self._run_handler, args=(conn, peer), daemon=True,
                             name=f"{self.name}-conn").start()

    def _run_handler(self, conn, peer):
        try:
            self.handle(conn, peer)
        except OSError as e:
            with self._lock:
                self.errors.append(repr(e))
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def handle(self, conn, peer):  # pragma: no cover - overridden
        raise NotImplementedError

    def open_connections(self):
        with self._lock:
            return len(self._conns)

    def close(self):
        with self._lock:
            self._closed = True
            conns = list(self._conns)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(5)


class EchoServer(_ThreadedServer):
    """Echoes every byte until the peer half-closes, then half-closes its own
    write side (so EOF propagates back) and closes.

    Records, per finished connection, (bytes received, sha256 hex) in
    `finished` so tests can check what the service itself saw.
    """

    def __init__(self, sock=None):
        self.finished = []
        super().__init__(sock, name="echo")

    def handle(self, conn, peer):
        h = hashlib.sha256()
        n = 0
        while True:
            data = conn.recv(262144)
            if not data:
                break
            h.update(data)
            n += len(data)
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        with self._lock:
            self.finished.append((n, h.hexdigest()))


class RequestResponseServer(_ThreadedServer):
    """Reads the whole request (until the peer half-closes), then sends
    `response` and closes. Records each request it saw in `requests`."""

    def __init__(self, response, sock=None):
        self.response = response
        self.requests = []
        super().__init__(sock, name="reqresp")

    def handle(self, conn, peer):
        chunks = []
        while True:
            data = conn.recv(262144)
            if not data:
                break
            chunks.append(data)
        with self._lock:
            self.requests.append(b"".join(chunks))
        conn.sendall(self.response)
        conn.shutdown(socket.SHUT_WR)


# ---------------------------------------------------------------------------
# Visitor helpers
# ---------------------------------------------------------------------------

def connect(port, timeout=DEFAULT_TIMEOUT, host=LOOPBACK):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exactly(sock, n, timeout=DEFAULT_TIMEOUT):
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"received only {len(buf)} of {n} bytes within {timeout}s")
        sock.settimeout(remaining)
        chunk = sock.recv(min(262144, n - len(buf)))
        if not chunk:
            raise AssertionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_until_eof(sock, timeout=DEFAULT_TIMEOUT, limit=None):
    """Reads until EOF. Returns (data, how) with how in {"eof", "reset"}.
    Raises WaitTimeout if the peer neither closes nor resets in time."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"connection still open after {timeout:.1f}s "
                              f"({len(buf)} bytes received)")
        sock.settimeout(min(remaining, 1.0))
        try:
            chunk = sock.recv(262144)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(buf), "reset"
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                return bytes(buf), "reset"
            raise
        if not chunk:
            return bytes(buf), "eof"
        buf += chunk
        if limit is not None and len(buf) > limit:
            raise AssertionError(f"received more than {limit} bytes")


def echo_roundtrip(port, payload, timeout=DEFAULT_TIMEOUT):
    """Connects to the public port, sends payload (from a writer thread, so
    large payloads do not deadlock), half-closes, reads until EOF, and
    returns what came back."""
    s = connect(port, timeout=timeout)
    err = []

    def writer():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        data, _ = recv_until_eof(s, timeout=timeout)
    finally:
        t.join(timeout)
        s.close()
    if err:
        raise AssertionError(f"sending {len(payload)} bytes failed: {err[0]!r}; got "
                             f"{len(data)} bytes back")
    return data


def tunnel_works(port, size=4096, timeout=10):
    """One echo exchange through the public port; True iff exact echo."""
    payload = os.urandom(size)
    return echo_roundtrip(port, payload, timeout=timeout) == payload


def wait_tunnel_works(port, timeout=DEFAULT_TIMEOUT, what=None):
    """Polls (fresh visitor connection each attempt) until an echo through
    the public port succeeds."""

    def attempt():
        try:
            return tunnel_works(port, timeout=5)
        except (OSError, AssertionError):
            return False

    return wait_until(attempt, timeout=timeout, interval=0.1,
                      what=what or f"an echo through public port {port} to succeed")


def assert_tunnel_works(test, port, size=65536):
    payload = os.urandom(size)
    got = echo_roundtrip(port, payload)
    test.assertEqual(len(got), len(payload), f"echo through port {port}: length mismatch")
    test.assertTrue(got == payload, f"echo through port {port}: content mismatch")


# ---------------------------------------------------------------------------
# Wire protocol bits (for raw-socket tests)
# ---------------------------------------------------------------------------

MAGIC = b"RT"
WIRE_VERSION = 1
MAX_PAYLOAD = 16 * 1024


def frame_header(length, magic=MAGIC, version=WIRE_VERSION, reserved=0):
    return magic + bytes([version, reserved]) + struct.pack(">I", length)


def frame(payload):
    return frame_header(len(payload)) + payload


def read_frame(sock, timeout=DEFAULT_TIMEOUT):
    header = recv_exactly(sock, 8, timeout)
    magic, version, reserved, length = header[:2], header[2], header[3], \
        struct.unpack(">I", header[4:])[0]
    if length > MAX_PAYLOAD:
        raise AssertionError(f"server sent frame with length {length} > {MAX_PAYLOAD}")
    payload = recv_exactly(sock, length, timeout) if length else b""
    return (magic, version, reserved, length), payload


def pb_varint(value):
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, value):
    """Encodes one protobuf field: int -> varint, bytes/str -> length-delimited."""
    if isinstance(value, int):
        return pb_varint(num << 3) + pb_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return pb_varint((num << 3) | 2) + pb_varint(len(value)) + value


def pb_decode(buf):
    """Minimal protobuf decoder: list of (field_number, wire_type, value)."""
    fields = []
    i = 0

    def varint():
        nonlocal i
        shift = 0
        result = 0
        while True:
            if i >= len(buf):
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            fields.append((num, wt, varint()))
        elif wt == 2:
            n = varint()
            if i + n > len(buf):
                raise ValueError("truncated field")
            fields.append((num, wt, bytes(buf[i:i + n])))
            i += n
        elif wt == 1:
            fields.append((num, wt, bytes(buf[i:i + 8])))
            i += 8
        elif wt == 5:
            fields.append((num, wt, bytes(buf[i:i + 4])))
            i += 4
        else:
            raise ValueError(f"bad wire type {wt}")
    return fields


# ---------------------------------------------------------------------------
# gRPC health (optional dependency: Debian's python3-grpcio)
# ---------------------------------------------------------------------------

def grpc_health_status(addr, service="", timeout=10):
    """Calls grpc.health.v1.Health/Check generically; returns the status
    enum value (1 == SERVING). Raises unittest.SkipTest if grpc is missing."""
    try:
        import grpc  # noqa: PLC0415
    except ImportError as e:
        raise unittest.SkipTest(f"python grpc not available: {e}")
    request = pb_field(1, service) if service else b""
    with grpc.insecure_channel(addr) as channel:
        call = channel.unary_unary("/grpc.health.v1.Health/Check",
                                   request_serializer=lambda b: b,
                                   response_deserializer=lambda b: b)
        resp = call(request, timeout=timeout)
    status = 0  # proto3 default UNKNOWN when the field is absent
    for num, wt, val in pb_decode(resp):
        if num == 1 and wt == 0:
            status = val
    return status


# ---------------------------------------------------------------------------
# Base test case
# ---------------------------------------------------------------------------

def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # JSON strings are valid YAML scalars


def to_yaml(obj, indent=0):
    """Tiny YAML emitter for nested dicts/lists of scalars (enough for the
    config schema). Strings are always double-quoted."""
    pad = "  " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict):
                if v:
                    lines.append(f"{pad}{k}:")
                    lines.append(to_yaml(v, indent + 1))
                else:
                    lines.append(f"{pad}{k}: {{}}")
            elif isinstance(v, list):
                if not v:
                    lines.append(f"{pad}{k}: []")
                    continue
                lines.append(f"{pad}{k}:")
                for item in v:
                    if isinstance(item, dict):
                        sub = to_yaml(item, indent + 2).splitlines()
                        first = sub[0].lstrip()
                        lines.append(f"{pad}  - {first}")
                        lines.extend(sub[1:])
                    else:
                        lines.append(f"{pad}  - {_yaml_scalar(item)}")
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(v)}")
    else:
        raise TypeError("to_yaml expects a dict at top level")
    return "\n".join(lines)


def deep_merge(base, extra):
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


class IntegrationTest(unittest.TestCase):
    """Base class: per-test temp dir, token, process/socket cleanup, secret
    leak check, stderr dump on failure."""

    maxDiff = 4000

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="reitunnel-it-")
        self.token = "s3cr3t-" + os.urandom(12).hex()
        self.secrets = {self.token}
        self.procs = []
        # Registered first => runs last (cleanups are LIFO).
        self.addCleanup(self._final_cleanup)

    # -- failure detection / cleanup ------------------------------------------

    def _test_failed(self):
        # Cleanups run inside their own "test part", where _outcome.success
        # has been reset; the result object is what knows about failures.
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return True
        for test, _ in list(getattr(result, "errors", [])) + list(getattr(result, "failures", [])):
            if test is self or getattr(test, "test_case", None) is self:
                return True
        return False

    # At cleanup every still-running process gets SIGTERM (so every scenario
    # also exercises graceful shutdown and sanitizer leak checks at exit);
    # it must exit 0 within this long, else it is killed and the test fails.
    CLEANUP_TERM_TIMEOUT = 15.0

    def _final_cleanup(self):
        problems = []
        # Agents first, then servers (the order an operator would use; the
        # simultaneous case has its own test in test_shutdown).
        for group in (AgentProc, ServerProc, Proc):
            running = [p for p in self.procs
                       if isinstance(p, group) and p.alive() and p.graceful_at_cleanup]
            for p in running:
                p.terminate()
            deadline = time.monotonic() + self.CLEANUP_TERM_TIMEOUT
            for p in running:
                try:
                    rc = p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    problems.append(f"graceful shutdown at cleanup: {p.name} (pid {p.pid}) did "
                                    f"not exit within {self.CLEANUP_TERM_TIMEOUT:.0f}s of SIGTERM")
                    continue
                if rc != 0:
                    problems.append(f"graceful shutdown at cleanup: {p.name} (pid {p.pid}) "
                                    f"exited rc={rc} on SIGTERM (expected 0)")
        for p in self.procs:
            p.kill()
        for p in self.procs:
            for line in p.all_output_lines():
                # Secrets must never appear in any output of any process.
                for secret in self.secrets:
                    if secret and secret in line:
                        problems.append(f"secret token appeared in output of {p.name}: {line}")
                # Sanitizer builds: any report is a failure, even if the test passed.
                if any(m in line for m in SANITIZER_MARKERS):
                    problems.append(f"sanitizer report in output of {p.name}: {line}")
        if problems or self._test_failed():
            sys.stderr.write(f"\n===== process logs for {self.id()} =====\n")
            for p in self.procs:
                sys.stderr.write(p.describe(60) + "\n")
            sys.stderr.write(f"(temp dir kept: {self.tmp})\n")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            raise AssertionError("\n  ".join(problems[:20]))

    # -- helpers -------------------------------------------------------------

    def write_file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_config(self, name, cfg):
        """cfg: dict (emitted as YAML) or str (written verbatim)."""
        text = cfg if isinstance(cfg, str) else to_yaml(cfg) + "\n"
        return self.write_file(name, text)

    def spawn(self, cls, name, argv, env=None):
        p = cls(name, argv, env=env, cwd=self.tmp)
        self.procs.append(p)
        return p

    def port_range(self, size=20):
        r = free_port_range(size)
        self.addCleanup(r.release)
        return r

    def start_echo(self, sock=None):
        e = EchoServer(sock)
        self.addCleanup(e.close)
        return e

    def start_reqresp(self, response, sock=None):
        s = RequestResponseServer(response, sock)
        self.addCleanup(s.close)
        return s

    def raw_socket(self, port, timeout=DEFAULT_TIMEOUT):
        s = connect(port, timeout=timeout)
        self.addCleanup(s.close)
        return s

    @property
    def link(self):
        """This test's agent link (agent_link.Link), from REITUNNEL_TEST_LINK."""
        if getattr(self, "_link", None) is None:
            import agent_link
            self._link = agent_link.Link(sys.modules[__name__], self, LINK)
        return self._link

    def agent_address(self, server=None, *, agent_port=None, ws_port=None, host=None):
        """The --server value that reaches `server` (or the given ports) over
        this test's link, starting the proxy in between if there is one."""
        if server is not None:
            agent_port, ws_port = server.agent_port, server.ws_port
        return self.link.agent_address(agent_port, ws_port, host=host)

    def start_server(self, *, token=None, ports=None, listen=f"{LOOPBACK}:0",
                     admin=f"{LOOPBACK}:0", config=None, use_config=True, extra_args=(),
                     log_format="json", wait_ready=True, name="server", env=None, ws_port=0):
        """Starts reitunneld. By default writes a config file that binds
        public listeners to loopback only (public_bind_addr) merged with
        `config` (dict). Flags carry listen/admin/token/public-ports. `env`
        adds to the process environment. With a WebSocket link the server
        also listens for agents on ws_port (0: any)."""
        if ports is None:
            ports = self.port_range()
        tok = self.token if token is None else token
        argv = [binary("reitunneld")]
        if listen is not None:
            argv.append(f"--listen={listen}")
        if admin is not None:
            argv.append(f"--admin={admin}")
        if tok is not False:
            argv.append(f"--token={tok}")
        if ports is not False:
            argv.append(f"--public-ports={ports.spec if isinstance(ports, PortRange) else ports}")
        if log_format:
            argv.append(f"--log-format={log_format}")
        if WORKERS:
            argv.append(f"--workers={WORKERS}")
        if use_config:
            cfg = deep_merge({"public_bind_addr": LOOPBACK}, config or {})
            path = self.write_config(f"{name}-{len(self.procs)}.yaml", cfg)
            argv.append(f"--config={path}")
        argv.extend(self.link.server_args(ws_port))
        argv.extend(extra_args)
        p = self.spawn(ServerProc, name, argv, env=env)
        p.port_range = ports if isinstance(ports, PortRange) else None
        if wait_ready and self.link.websocket:
            ev = p.wait_for_event("ws_listener_ready")
            p.ws_addr = ev["addr"]
            p.ws_port = parse_addr(ev["addr"])[1]
        if wait_ready:
            ev = p.wait_for_event("agent_listener_ready")
            p.agent_addr = ev["addr"]
            p.agent_port = parse_addr(ev["addr"])[1]
            ev = p.wait_for_event("admin_listener_ready")
            p.admin_addr = ev["addr"]
            p.admin_port = parse_addr(ev["addr"])[1]
        return p

    def start_agent(self, server, tunnels=(), *, token=None, config=None, extra_args=(),
                    log_format="json", wait_open=True, name="agent", server_addr=None):
        """Starts reitunnel. tunnels: iterable of (name, remote_port,
        local_port) tuples or raw --tunnel spec strings. If wait_open, waits
        for a tunnel_open event for every tunnel and fills remote_ports.
        server_addr: an explicit --server (agent_address() gives one for
        this test's link)."""
        tok = self.token if token is None else token
        addr = server_addr or (self.agent_address(server) if server is not None else None)
        argv = [binary("reitunnel")]
        if addr is not None:
            argv.append(f"--server={addr}")
        if tok is not False:
            argv.append(f"--token={tok}")
        names = []
        for t in tunnels:
            if isinstance(t, str):
                argv.append(f"--tunnel={t}")
            else:
                tname, rport, lport = t
                names.append(tname)
                argv.append(f"--tunnel={tname}={rport}:{LOOPBACK}:{lport}")
        if log_format:
            argv.append(f"--log-format={log_format}")
        if WORKERS:
            argv.append(f"--workers={WORKERS}")
        if config is not None:
            path = self.write_config(f"{name}-{len(self.procs)}.yaml", config)
            argv.append(f"--config={path}")
        if addr is not None:
            argv.extend(self.link.agent_args())
        argv.extend(extra_args)
        p = self.spawn(AgentProc, name, argv)
        p.remote_ports = {}
        if wait_open:
            ev = p.wait_for_event("connected")
            p.client_id = ev.get("client_id")
            for tname in names:
                p.remote_ports[tname] = p.tunnel_port(tname)
        return p

    def setup_tunnel(self, server=None, remote_port=0, name="web", echo=None, **server_kw):
        """Server + echo service + agent with one tunnel; returns
        (server, agent, echo, public_port)."""
        if server is None:
            server = self.start_server(**server_kw)
        if echo is None:
            echo = self.start_echo()
        agent = self.start_agent(server, [(name, remote_port, echo.port)])
        port = agent.remote_ports[name]
        if server.port_range is not None and remote_port == 0:
            self.assertIn(port, server.port_range,
                          f"server picked port {port} outside {server.port_range}")
        return server, agent, echo, port

    def assert_exits(self, proc, code, timeout=DEFAULT_TIMEOUT):
        rc = proc.wait_exit(timeout)
        self.assertEqual(rc, code, f"{proc.name} exit code\n{proc.describe()}")
        return rc

    def assert_alive(self, proc):
        self.assertIsNone(proc.popen.poll(), f"{proc.name} died\n{proc.describe()}")


# ---------------------------------------------------------------------------
# Probes of running processes, the admin CLI and metrics (shared helpers)
# ---------------------------------------------------------------------------

class CtlResult:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"{self} did not print JSON: {e}") from None

    def __str__(self):
        return (f"reitunnelctl {' '.join(self.argv)} -> rc={self.rc}\n"
                f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}")


def run_ctl(admin_addr, token, *args, timeout=60):
    """Runs reitunnelctl against admin_addr; returns a CtlResult."""
    argv = [f"--admin={admin_addr}", f"--token={token}"] + list(args)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REITUNNEL_ADMIN", "REITUNNEL_ADMIN_TOKEN")}
    p = subprocess.run([binary("reitunnelctl")] + argv, capture_output=True, timeout=timeout,
                       env=env, stdin=subprocess.DEVNULL)
    result = CtlResult(argv, p.returncode, p.stdout.decode(errors="replace"),
                       p.stderr.decode(errors="replace"))
    # Not a Proc, so _final_cleanup never sees its output: check it here.
    for line in result.err.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            raise AssertionError(f"sanitizer report in output of {result}")
    return result


def scrape_metrics(addr, timeout=10):
    """Prometheus text of http://addr/metrics as {canonical sample key: value};
    labels in keys are sorted by name: 'm{a="1",b="2"}'."""
    import re  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=timeout) as r:
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            labels = sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            key = m.group(1)
            if labels:
                key += "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
            samples[key] = float(m.group(3))
    return samples


def _socket_inodes(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_connections(pid, remote_port=None, local_port=None, state="01"):
    """TCP sockets of process `pid` (IPv4 and IPv6) in `state` (/proc/net/tcp
    hex code; "01" = ESTABLISHED, "0A" = LISTEN), optionally only those whose
    remote or local port matches. Returns a list of (local, remote) "ip:port"
    hex strings as the kernel prints them."""
    inodes = _socket_inodes(pid)
    out = []
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) < 10 or cols[3] != state or cols[9] not in inodes:
                continue
            lport = int(cols[1].rsplit(":", 1)[1], 16)
            rport = int(cols[2].rsplit(":", 1)[1], 16)
            if remote_port is not None and rport != remote_port:
                continue
            if local_port is not None and lport != local_port:
                continue
            out.append((cols[1], cols[2]))
    return out


def nofile_limits(pid):
    """(soft, hard) 'Max open files' of a running process."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                parts = line.split()
                return (int(parts[3]) if parts[3] != "unlimited" else -1,
                        int(parts[4]) if parts[4] != "unlimited" else -1)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


def fill_server_addrs(server, timeout=DEFAULT_TIMEOUT):
    """For a server started with wait_ready=False: waits for its listeners
    and fills agent_addr/agent_port/admin_addr/admin_port."""
    ev = server.wait_for_event("admin_listener_ready", timeout=timeout)
    server.admin_addr = ev["addr"]
    server.admin_port = parse_addr(ev["addr"])[1]
    ev = server.wait_for_event("agent_listener_ready", timeout=timeout)
    server.agent_addr = ev["addr"]
    server.agent_port = parse_addr(ev["addr"])[1]
    return server
