"""The reitunnel.hook.v1.HookService servicer behind HookServer: turns each
RPC into calls on the hooks that implement its event and combines their
answers by strategy."""

from __future__ import annotations

import enum
import logging
import threading

import grpc

from ._decision import ALLOW, CANNOT_DECIDE, DENY, Decision
from ._events import sort_events
from ._proto.reitunnel.hook.v1 import hook_pb2, hook_pb2_grpc
from ._version import __version__

log = logging.getLogger("reitunnel_hookd")

SDK = f"reitunnel-hookd-python/{__version__}"


class Strategy(str, enum.Enum):
    """How blocking events are decided across the hooks of one HookServer.
    Notifications and data batches always go to every hook implementing
    them, in registration order."""

    # Hooks are asked in order; the first that does not allow (deny or
    # cannot_decide) decides and later hooks are not asked.
    STOP_ON_ERROR = "stop_on_error"
    # Every hook is asked. Any deny denies, with the reasons of all denying
    # hooks joined by "; ". Otherwise any cannot_decide answers UNAVAILABLE.
    # Otherwise allow.
    COLLECT_AND_CONTINUE = "collect_and_continue"


class _Entry:
    __slots__ = ("hook", "events")

    def __init__(self, hook, events):
        self.hook = hook
        self.events = frozenset(events)


class HookServicer(hook_pb2_grpc.HookServiceServicer):
    def __init__(self, entries, strategy, name=""):
        self._entries = [_Entry(hook, events) for hook, events in entries]
        self._strategy = Strategy(strategy)
        self._name = name
        self.events = frozenset().union(*(e.events for e in self._entries))
        self._warned = set()
        self._warned_lock = threading.Lock()

    # -- combining ------------------------------------------------------------

    def _unimplemented(self, event, rpc, context):
        with self._warned_lock:
            first = event not in self._warned
            self._warned.add(event)
        if first:
            # A server that calls what Describe left out is older than
            # Describe or misconfigured.
            log.warning("the server called %s, which no hook of this service implements "
                        "(answered UNIMPLEMENTED; Describe does not list %r)", rpc, event)
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      f"{rpc} is not implemented by this hook service")

    @staticmethod
    def _ask(hook, method, rpc, request):
        try:
            decision = getattr(hook, method)(request)
        except Exception as e:  # noqa: BLE001 - hook code is user code
            log.exception("%s: hook %s raised", rpc, type(hook).__name__)
            return Decision(CANNOT_DECIDE, f"{rpc}: hook raised {type(e).__name__}: {e}")
        if not isinstance(decision, Decision):
            log.error("%s: %s.%s returned %r, not allow(), deny(reason) or cannot_decide(why)",
                      rpc, type(hook).__name__, method, decision)
            return Decision(CANNOT_DECIDE, f"{rpc}: hook returned no decision")
        return decision

    def _decide(self, event, method, rpc, request, context):
        if event not in self.events:
            self._unimplemented(event, rpc, context)
        denials, errors = [], []
        for entry in self._entries:
            # A hook without the event has no say: it neither allows nor denies.
            if event not in entry.events:
                continue
            # Nobody waits for the answer any more: spare later hooks the work.
            if not context.is_active():
                context.abort(grpc.StatusCode.CANCELLED, "cancelled")
            decision = self._ask(entry.hook, method, rpc, request)
            if decision.kind == ALLOW:
                continue
            if decision.kind == DENY:
                denials.append(decision.reason or "denied by hook")
            else:
                errors.append(decision.reason or "hook could not decide")
            if self._strategy is Strategy.STOP_ON_ERROR:
                break
        # A deny is final whatever an undecided hook would have said.
        if denials:
            return hook_pb2.DecisionResponse(decision=hook_pb2.DENY, reason="; ".join(denials))
        if errors:
            context.abort(grpc.StatusCode.UNAVAILABLE, "; ".join(errors))
        return hook_pb2.DecisionResponse(decision=hook_pb2.ALLOW)

    def _notify(self, event, method, rpc, request, context):
        if event not in self.events:
            self._unimplemented(event, rpc, context)
        self._notify_hooks(event, method, rpc, request)
        return hook_pb2.Ack()

    def _notify_hooks(self, event, method, rpc, request):
        for entry in self._entries:
            if event not in entry.events:
                continue
            try:
                getattr(entry.hook, method)(request)
            except Exception:  # noqa: BLE001 - hook code is user code
                log.exception("%s: hook %s raised", rpc, type(entry.hook).__name__)

    # -- RPCs -----------------------------------------------------------------

    def OnServerStart(self, request, context):
        return self._decide("server_start", "on_server_start", "OnServerStart", request, context)

    def OnClientConnect(self, request, context):
        return self._decide("client_connect", "on_client_connect", "OnClientConnect", request,
                            context)

    def OnTunnelOpen(self, request, context):
        return self._decide("tunnel_open", "on_tunnel_open", "OnTunnelOpen", request, context)

    def OnVisitorConnect(self, request, context):
        return self._decide("visitor_connect", "on_visitor_connect", "OnVisitorConnect", request,
                            context)

    def OnServerStop(self, request, context):
        return self._notify("server_stop", "on_server_stop", "OnServerStop", request, context)

    def OnClientDisconnect(self, request, context):
        return self._notify("client_disconnect", "on_client_disconnect", "OnClientDisconnect",
                            request, context)

    def OnTunnelClose(self, request, context):
        return self._notify("tunnel_close", "on_tunnel_close", "OnTunnelClose", request, context)

    def OnError(self, request, context):
        return self._notify("error", "on_error", "OnError", request, context)

    def OnVisitorDisconnect(self, request, context):
        return self._notify("visitor_disconnect", "on_visitor_disconnect",
                            "OnVisitorDisconnect", request, context)

    def StreamDataEvents(self, request_iterator, context):
        if "data" not in self.events:
            self._unimplemented("data", "StreamDataEvents", context)
        # The stream ends when the server half-closes it (the normal end) or
        # the call is cancelled (server gone, HookServer shutting down);
        # either way every batch that arrived has been handed to the hooks.
        try:
            for batch in request_iterator:
                self._notify_hooks("data", "on_data_batch", "OnDataBatch", batch)
        except grpc.RpcError:
            pass
        return hook_pb2.Ack()

    def Describe(self, request, context):
        return hook_pb2.DescribeResponse(events=sort_events(self.events), sdk=SDK,
                                         name=self._name)
