"""A lightweight agent that speaks the agent <-> server wire protocol
(proto/reitunnel/wire/v1/wire.proto) from Python asyncio, for tests that need
thousands of agents (one `reitunnel` process each would not fit) or an agent
that misbehaves on purpose (floods, never reads, wrong proofs).

What it implements, as the real agent does (client/agent.cc):
- the handshake: Challenge, Hello{mac = HMAC-SHA256 over the transcript of
  common/wire/auth.cc}, then Welcome / DataReady / Refused;
- OpenTunnel -> TunnelOpened / TunnelRefused;
- data connections ("links") proven with the session key, opened at start
  (Welcome.data_pool_size) and on NeedDataConns;
- the relay on a link after StartRelay: with the "framed_relay" feature,
  length-prefixed chunks ended by a terminator (common/net/framed_relay.h),
  after which the link is idle again; without it, raw bytes until EOF.
  The agent itself echoes what a visitor sends (there is no local service),
  so an echo through the public port proves the whole path;
- heartbeats (Ping at the Welcome's interval).

Standard library only (hmac, hashlib, asyncio); frames are encoded with the
harness's minimal protobuf helpers.
"""

import asyncio
import hashlib
import hmac
import os
import socket
import struct

import harness as h

KIND_CONTROL = 1
KIND_DATA = 2

# Frame.msg oneof field numbers.
CHALLENGE = 1
HELLO = 2
WELCOME = 3
DATA_READY = 4
REFUSED = 5
OPEN_TUNNEL = 6
TUNNEL_OPENED = 7
TUNNEL_REFUSED = 8
NEED_DATA_CONNS = 9
PING = 10
PONG = 11
START_RELAY = 12
GOODBYE = 13
TUNNEL_CLOSED = 14
RETIRE_DATA_CONNS = 15

REFUSAL_CODES = {0: "UNSPECIFIED", 1: "AUTH_FAILED", 2: "BAD_REQUEST", 3: "PORT_OUT_OF_RANGE",
                 4: "PORT_IN_USE", 5: "LIMIT", 6: "DENIED", 7: "UNAVAILABLE", 8: "BANNED",
                 9: "ALREADY_CONNECTED"}

CHUNK_END = 0
CHUNK_RESET = 0xFFFFFFFF


# ---------------------------------------------------------------------------
# Messages (pure functions over bytes)
# ---------------------------------------------------------------------------

class Msg:
    """A decoded protobuf message: field number -> list of raw values."""

    def __init__(self, payload):
        self.fields = {}
        for num, _, val in h.pb_decode(payload):
            self.fields.setdefault(num, []).append(val)

    def get(self, num, default=None):
        vals = self.fields.get(num)
        return vals[-1] if vals else default

    def str(self, num):
        v = self.get(num, b"")
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)

    def int(self, num):
        v = self.get(num, 0)
        return v if isinstance(v, int) else 0

    def all(self, num):
        return list(self.fields.get(num, []))


def encode(kind, body=b""):
    """One wire frame: header + Frame{kind: body}."""
    return h.frame(h.pb_field(kind, body))


def decode(payload):
    """(kind, Msg) of a Frame payload; kind 0 when no field is set."""
    fields = h.pb_decode(payload)
    if not fields:
        return 0, Msg(b"")
    num, wt, val = fields[-1]
    if wt != 2:
        raise ValueError(f"Frame field {num} has wire type {wt}")
    return num, Msg(val)


def hello_mac(key, kind, nonce, client_id=b""):
    if isinstance(key, str):
        key = key.encode()
    if isinstance(client_id, str):
        client_id = client_id.encode()
    transcript = b"reitunnel/1 hello %d %d:" % (kind, len(client_id)) + client_id + b" " + nonce
    return hmac.new(key, transcript, hashlib.sha256).digest()


def session_key(token, session_nonce, client_id):
    if isinstance(token, str):
        token = token.encode()
    cid = client_id.encode() if isinstance(client_id, str) else client_id
    transcript = b"reitunnel/1 session %d:" % len(cid) + cid + b" " + session_nonce
    return hmac.new(token, transcript, hashlib.sha256).digest()


def control_hello(token, nonce, *, features=("framed_relay",), instance_id=None,
                  agent_version="wire-agent", mac=None):
    body = h.pb_field(1, KIND_CONTROL)
    body += h.pb_field(2, mac if mac is not None else hello_mac(token, KIND_CONTROL, nonce))
    body += h.pb_field(4, agent_version)
    for f in features:
        body += h.pb_field(6, f)
    if instance_id:
        body += h.pb_field(7, instance_id)
    return encode(HELLO, body)


def data_hello(key, nonce, client_id):
    body = h.pb_field(1, KIND_DATA) + h.pb_field(2, hello_mac(key, KIND_DATA, nonce, client_id))
    body += h.pb_field(3, client_id)
    return encode(HELLO, body)


def open_tunnel(name, remote_port=0, local_addr="127.0.0.1:9"):
    body = h.pb_field(1, name)
    if remote_port:
        body += h.pb_field(2, remote_port)
    body += h.pb_field(3, local_addr)
    return encode(OPEN_TUNNEL, body)


def ping(seq):
    return encode(PING, h.pb_field(1, seq))


class Refused(Exception):
    """The server answered a handshake or a request with a refusal."""

    def __init__(self, code, reason, retry_after_ms=0):
        self.code = REFUSAL_CODES.get(code, str(code))
        self.reason = reason
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{self.code}: {reason}")


# ---------------------------------------------------------------------------
# asyncio I/O
# ---------------------------------------------------------------------------

async def read_frame(reader):
    header = await reader.readexactly(8)
    if header[:2] != h.MAGIC or header[2] != h.WIRE_VERSION:
        raise ValueError(f"bad frame header {header!r}")
    length = struct.unpack(">I", header[4:])[0]
    if length > h.MAX_PAYLOAD:
        raise ValueError(f"frame length {length} > {h.MAX_PAYLOAD}")
    return decode(await reader.readexactly(length))


async def open_connection(host, port, source=None, timeout=h.DEFAULT_TIMEOUT):
    local = (source, 0) if source else None
    return await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=local), timeout)


async def expect(reader, kind, timeout=h.DEFAULT_TIMEOUT):
    got, msg = await asyncio.wait_for(read_frame(reader), timeout)
    if got == REFUSED:
        raise Refused(msg.int(1), msg.str(2), msg.int(3))
    if got != kind:
        raise AssertionError(f"expected frame {kind}, got {got}")
    return msg


def close_writer(writer):
    try:
        writer.close()
    except (OSError, RuntimeError):
        pass


class WireAgent:
    """One fake agent: a control connection, its tunnels and its links.

    Typical use (inside an event loop):
        a = WireAgent(host, port, token)
        await a.connect()                 # raises Refused
        port = await a.open_tunnel("t0")  # raises Refused
        ... visitors to `port` are echoed ...
        await a.close()
    """

    def __init__(self, host, port, token, *, source=None, framed=True, pool=None,
                 heartbeat=True, instance_id=None, timeout=h.DEFAULT_TIMEOUT):
        self.host = host
        self.port = port
        self.token = token
        self.source = source
        self.framed = framed
        self.pool_override = pool
        self.heartbeat = heartbeat
        self.instance_id = instance_id
        self.timeout = timeout
        self.client_id = None
        self.key = None
        self.welcome = None
        self.tunnels = {}          # name -> (tunnel_id, remote_port)
        self.refusals = []         # TunnelRefused frames seen (name, code, reason)
        self.goodbye = None
        self.relays = 0            # visitors relayed to completion
        self.link_errors = []
        self.links_open = 0
        self._pending = {}         # tunnel name -> Future
        self._tasks = set()
        self._links = set()
        self._reader = None
        self._writer = None
        self.closed = asyncio.Event()

    # -- control ---------------------------------------------------------------

    async def connect(self):
        reader, writer = await open_connection(self.host, self.port, self.source, self.timeout)
        try:
            ch = await expect(reader, CHALLENGE, self.timeout)
            nonce = ch.get(1, b"")
            features = ("framed_relay",) if self.framed else ()
            writer.write(control_hello(self.token, nonce, features=features,
                                       instance_id=self.instance_id))
            await writer.drain()
            w = await expect(reader, WELCOME, self.timeout)
        except BaseException:
            close_writer(writer)
            raise
        self._reader, self._writer = reader, writer
        self.welcome = w
        self.client_id = w.str(1)
        self.key = session_key(self.token, w.get(2, b""), self.client_id)
        self.framed = b"framed_relay" in w.all(6)
        self._spawn(self._control_loop())
        if self.heartbeat:
            self._spawn(self._heartbeat(max(w.int(4), 100) / 1000.0))
        pool = self.pool_override if self.pool_override is not None else w.int(3)
        for _ in range(pool):
            self.add_link()
        return w

    async def open_tunnel(self, name, remote_port=0):
        fut = asyncio.get_running_loop().create_future()
        self._pending[name] = fut
        self._writer.write(open_tunnel(name, remote_port))
        await self._writer.drain()
        return await asyncio.wait_for(fut, self.timeout)

    def send(self, data):
        self._writer.write(data)

    async def _control_loop(self):
        try:
            while True:
                kind, m = await read_frame(self._reader)
                if kind == TUNNEL_OPENED:
                    name = m.str(1)
                    self.tunnels[name] = (m.str(2), m.int(3))
                    fut = self._pending.pop(name, None)
                    if fut and not fut.done():
                        fut.set_result(m.int(3))
                elif kind == TUNNEL_REFUSED:
                    name = m.str(1)
                    self.refusals.append((name, REFUSAL_CODES.get(m.int(2)), m.str(3)))
                    fut = self._pending.pop(name, None)
                    if fut and not fut.done():
                        fut.set_exception(Refused(m.int(2), m.str(3), m.int(4)))
                elif kind == NEED_DATA_CONNS:
                    for _ in range(min(m.int(1), 64)):
                        self.add_link()
                elif kind == PING:
                    self._writer.write(encode(PONG, h.pb_field(1, m.int(1))))
                elif kind == GOODBYE:
                    self.goodbye = m.str(1)
                elif kind == REFUSED:
                    self.goodbye = f"refused: {m.str(2)}"
        except (asyncio.IncompleteReadError, OSError, ValueError):
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("control connection closed"))
            self.closed.set()

    async def _heartbeat(self, interval):
        seq = 0
        while not self.closed.is_set():
            await asyncio.sleep(interval)
            seq += 1
            try:
                self._writer.write(ping(seq))
            except (OSError, RuntimeError):
                return

    # -- links -----------------------------------------------------------------

    def add_link(self):
        self._spawn(self._link())

    async def _link(self):
        try:
            reader, writer = await open_connection(self.host, self.port, self.source,
                                                   self.timeout)
        except (OSError, asyncio.TimeoutError) as e:
            self.link_errors.append(repr(e))
            return
        self._links.add(writer)
        self.links_open += 1
        try:
            ch = await expect(reader, CHALLENGE, self.timeout)
            writer.write(data_hello(self.key, ch.get(1, b""), self.client_id))
            await writer.drain()
            await expect(reader, DATA_READY, self.timeout)
            while True:
                kind, _ = await read_frame(reader)  # idle until StartRelay
                if kind != START_RELAY:
                    raise AssertionError(f"unexpected frame {kind} on a data connection")
                if not self.framed:
                    await self._raw_echo(reader, writer)
                    self.relays += 1
                    return
                await self._framed_echo(reader, writer)
                self.relays += 1
        except asyncio.IncompleteReadError:
            pass  # the server closed an idle link (retired, shutdown)
        except (OSError, ValueError, AssertionError, Refused, asyncio.TimeoutError) as e:
            self.link_errors.append(repr(e))
        finally:
            self.links_open -= 1
            self._links.discard(writer)
            close_writer(writer)

    @staticmethod
    async def _framed_echo(reader, writer):
        # Echo every chunk back as it comes; answer the terminator with the
        # same terminator, after which both directions are done.
        while True:
            n = struct.unpack(">I", await reader.readexactly(4))[0]
            if n in (CHUNK_END, CHUNK_RESET):
                writer.write(struct.pack(">I", n))
                await writer.drain()
                return
            data = await reader.readexactly(n)
            writer.write(struct.pack(">I", n) + data)
            await writer.drain()

    @staticmethod
    async def _raw_echo(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                writer.write_eof()
                await writer.drain()
                return
            writer.write(data)
            await writer.drain()

    # -- lifecycle ---------------------------------------------------------------

    def _spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    async def close(self):
        if self._writer is not None:
            close_writer(self._writer)
        for w in list(self._links):
            close_writer(w)
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


# ---------------------------------------------------------------------------
# Visitors (asyncio)
# ---------------------------------------------------------------------------

async def echo_visit(port, payload, host=h.LOOPBACK, timeout=h.DEFAULT_TIMEOUT):
    """One visitor: sends payload, half-closes, reads to EOF; returns what came
    back."""
    reader, writer = await open_connection(host, port, timeout=timeout)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        close_writer(writer)


def raise_fd_limit(want):
    """Raises this process's RLIMIT_NOFILE soft limit to at least `want` (up
    to the hard limit; as root, the hard limit too). Returns the soft limit
    now in force."""
    import resource  # noqa: PLC0415
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    if hard != resource.RLIM_INFINITY and hard < want and os.geteuid() == 0:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


# ---------------------------------------------------------------------------
# Blocking helpers (for single misbehaving connections in unittest code)
# ---------------------------------------------------------------------------

def blocking_control_session(port, token, *, source=None, host=h.LOOPBACK,
                             timeout=h.DEFAULT_TIMEOUT, features=("framed_relay",)):
    """Opens a control connection with a blocking socket and completes the
    handshake. Returns (socket, Welcome Msg); raises Refused."""
    s = socket.socket()
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    try:
        _, payload = h.read_frame(s, timeout)
        kind, ch = decode(payload)
        if kind != CHALLENGE:
            raise AssertionError(f"expected a challenge, got frame {kind}")
        s.sendall(control_hello(token, ch.get(1, b""), features=features))
        _, payload = h.read_frame(s, timeout)
        kind, m = decode(payload)
        if kind == REFUSED:
            raise Refused(m.int(1), m.str(2), m.int(3))
        if kind != WELCOME:
            raise AssertionError(f"expected a welcome, got frame {kind}")
        return s, m
    except BaseException:
        s.close()
        raise
