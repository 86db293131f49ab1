"""HookServer: serves Hooks as reitunnel.hook.v1.HookService over gRPC, next
to grpc.health.v1.Health and gRPC server reflection, answering Describe
itself."""

from __future__ import annotations

import concurrent.futures
import re
import signal
import threading
from typing import Optional

import grpc

from . import _health, _reflection
from ._events import sort_events
from ._hook import Hook, implemented_events
from ._proto.reitunnel.hook.v1 import hook_pb2_grpc
from ._service import HookServicer, Strategy

SERVICE_NAME = "reitunnel.hook.v1.HookService"
HEALTH_SERVICE_NAME = "grpc.health.v1.Health"

_OPTIONS = [
    # reitunneld keeps its data stream alive with pings; gRPC's default server
    # policy would answer pings more frequent than every 5 minutes with GOAWAY.
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # No SO_REUSEPORT: a second copy on the same port must fail, not silently
    # take half of the calls.
    ("grpc.so_reuseport", 0),
    # Data batches grow with the number of tunnels.
    ("grpc.max_receive_message_length", 64 << 20),
    # Recycle connections so that clients re-resolve dns:/// names and reach
    # new replicas; the long grace lets an open data stream finish cleanly.
    ("grpc.max_connection_age_ms", 5 * 60 * 1000),
    ("grpc.max_connection_age_grace_ms", 30 * 1000),
]

_TCP_ADDRESS = re.compile(r"^(.*):(\d{1,5})$")


class HookServerError(Exception):
    """HookServer cannot start: bad options, unreadable TLS files, address in
    use."""


def _read(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise HookServerError(f"cannot read {what} {path}: {e.strerror}") from None
    if not data:
        raise HookServerError(f"cannot read {what} {path}: empty file")
    return data


class HookServer:
    """Serves one or more hooks.

        server = HookServer("127.0.0.1:7100")
        server.add_hook(MyHook())
        server.run()          # until SIGTERM/SIGINT

    address: "host:port" (port 0 picks a free port, see .port) or
        "unix:///absolute/path".
    strategy: Strategy.STOP_ON_ERROR (default) or COLLECT_AND_CONTINUE (or
        their names) for blocking events across several hooks.
    tls_cert_file/tls_key_file: PEM files; TLS is on when a certificate is
        given. tls_client_ca_file additionally requires client certificates
        signed by that CA (mTLS).
    handle_signals: catch SIGTERM and SIGINT from start() until shutdown and
        make wait() return on them (needs the main thread). Turn off when
        the program handles signals itself and calls shutdown().
    shutdown_grace: seconds calls in flight get at shutdown before they are
        cancelled (the server's data stream only ever ends this way).
    max_workers: threads running hook code; the server's data stream holds
        one for as long as it is open.
    name: the hook service's own name and version, reported in Describe.
    """

    def __init__(self, address: str = "127.0.0.1:7100", *,
                 strategy: Strategy | str = Strategy.STOP_ON_ERROR,
                 tls_cert_file: Optional[str] = None, tls_key_file: Optional[str] = None,
                 tls_client_ca_file: Optional[str] = None, handle_signals: bool = True,
                 shutdown_grace: float = 1.0, max_workers: int = 16, name: str = ""):
        try:
            self._strategy = Strategy(strategy)
        except ValueError:
            raise ValueError(f"unknown strategy {strategy!r} "
                             f"(stop_on_error|collect_and_continue)") from None
        self._address = address
        self._tls = (tls_cert_file, tls_key_file, tls_client_ca_file)
        self._handle_signals = handle_signals
        self._shutdown_grace = shutdown_grace
        self._max_workers = max_workers
        self._name = name
        self._hooks = []
        self._lifecycle = threading.Lock()
        self._started = False
        self._server = None
        self._health = None
        self._stop = threading.Event()
        self._down = threading.Event()
        self._stop_signal = None
        self._previous_handlers = {}
        self.port = 0
        self.address = ""
        self.implemented_events = []

    def add_hook(self, hook: Hook) -> "HookServer":
        """Adds a hook, asked after those added before it. Call before start()."""
        if not isinstance(hook, Hook):
            raise TypeError(f"{hook!r} is not a reitunnel_hookd.Hook")
        if self._started:
            raise HookServerError("add_hook() after start()")
        self._hooks.append(hook)
        return self

    @property
    def stop_signal(self) -> Optional[str]:
        """"SIGTERM" or "SIGINT" when a signal ended wait(), else None."""
        return self._stop_signal

    def _credentials(self):
        cert, key, ca = self._tls
        if not cert:
            if key or ca:
                raise HookServerError("TLS key or client CA given without a TLS certificate")
            return None
        if not key:
            raise HookServerError("TLS certificate given without its key")
        pair = (_read(key, "TLS key"), _read(cert, "TLS certificate"))
        if ca:
            return grpc.ssl_server_credentials([pair], root_certificates=_read(ca, "TLS client CA"),
                                               require_client_auth=True)
        return grpc.ssl_server_credentials([pair])

    def _check_address(self):
        if self._address.startswith("unix:"):
            return None
        match = _TCP_ADDRESS.match(self._address)
        if not match or int(match.group(2)) > 65535:
            raise HookServerError(f"address {self._address!r}: want host:port (port 0 picks "
                                  f"one) or unix:///path")
        return match.group(1)

    def start(self) -> None:
        """Binds the address and starts serving in gRPC's threads; returns at
        once. Raises HookServerError (or ValueError for a hook declaring an
        unknown event)."""
        with self._lifecycle:
            if self._started:
                raise HookServerError("HookServer already started or shut down")
            if not self._hooks:
                raise HookServerError("HookServer has no hooks")
            if self._handle_signals and threading.current_thread() is not threading.main_thread():
                raise HookServerError("handle_signals needs the main thread; pass "
                                      "handle_signals=False and call shutdown() yourself")
            entries = [(hook, implemented_events(hook)) for hook in self._hooks]
            host = self._check_address()
            credentials = self._credentials()

            servicer = HookServicer(entries, self._strategy, self._name)
            server = grpc.server(
                concurrent.futures.ThreadPoolExecutor(max_workers=self._max_workers,
                                                      thread_name_prefix="reitunnel-hookd"),
                options=_OPTIONS)
            hook_pb2_grpc.add_HookServiceServicer_to_server(servicer, server)
            health = _health.HealthServicer(["", SERVICE_NAME])
            _health.health_pb2_grpc.add_HealthServicer_to_server(health, server)
            _reflection.add_reflection(server, [SERVICE_NAME, HEALTH_SERVICE_NAME])
            try:
                if credentials is None:
                    port = server.add_insecure_port(self._address)
                else:
                    port = server.add_secure_port(self._address, credentials)
            except RuntimeError as e:  # grpcio raises when the bind fails
                raise HookServerError(f"cannot listen on {self._address}: {e}") from None
            if port == 0 and host is not None:
                raise HookServerError(f"cannot listen on {self._address} (in use, or not a "
                                      f"local address?)")
            server.start()
            self._server = server
            self._health = health
            self._started = True
            self.implemented_events = sort_events(servicer.events)
            if host is None:
                self.port, self.address = 0, self._address
            else:
                self.port, self.address = port, f"{host}:{port}"
            if self._handle_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, _frame):
        if self._stop_signal is None:
            self._stop_signal = signal.Signals(signum).name
        self._stop.set()

    def wait(self) -> None:
        """Blocks until SIGTERM/SIGINT (with handle_signals) or shutdown()
        from another thread, then shuts the server down. Returns at once if
        the server was never started."""
        if not self._started:
            return
        while not (self._stop.is_set() or self._down.is_set()):
            # A timed wait: signal handlers run on the main thread between
            # waits even where a plain wait() would not wake for them.
            self._stop.wait(0.5)
        self.shutdown()

    def run(self) -> None:
        """start() then wait()."""
        self.start()
        self.wait()

    def shutdown(self) -> None:
        """Stops accepting calls (health turns NOT_SERVING), gives calls in
        flight shutdown_grace seconds, cancels the rest. Thread-safe and
        idempotent."""
        with self._lifecycle:
            self._started = True  # a server that was shut down does not start again
            if self._server is not None:
                self._health.set_all(_health.NOT_SERVING)
                self._health.stop_watches()
                self._server.stop(self._shutdown_grace).wait()
                self._server = None
            if self._previous_handlers and \
                    threading.current_thread() is threading.main_thread():
                for signum, handler in self._previous_handlers.items():
                    signal.signal(signum, handler)
                self._previous_handlers = {}
            self._down.set()
            self._stop.set()

