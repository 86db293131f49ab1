"""grpc.health.v1.Health for HookServer (Check and Watch).

Debian has no python3-grpcio-health-checking, so this serves the service
from stubs generated out of grpc-proto's health.proto."""

from __future__ import annotations

import threading

import grpc

from ._proto.grpc.health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN

# How often a Watch stream rechecks whether its caller is still there.
_WATCH_POLL_SECONDS = 1.0


class HealthServicer(health_pb2_grpc.HealthServicer):
    def __init__(self, services):
        self._cond = threading.Condition()
        self._status = {name: SERVING for name in services}
        self._stopping = False

    def set_all(self, status):
        with self._cond:
            for name in self._status:
                self._status[name] = status
            self._cond.notify_all()

    def stop_watches(self):
        """Ends every Watch stream (they would otherwise hold a worker thread
        through the shutdown grace period)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def Check(self, request, context):
        with self._cond:
            status = self._status.get(request.service)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    def Watch(self, request, context):
        last = None
        while context.is_active():
            with self._cond:
                status = self._status.get(request.service, SERVICE_UNKNOWN)
                if status == last:
                    if self._stopping:
                        return
                    self._cond.wait(_WATCH_POLL_SECONDS)
                    continue
            last = status
            yield health_pb2.HealthCheckResponse(status=status)
