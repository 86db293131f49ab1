"""The Hook base class: one method per event of the hook contract."""

from __future__ import annotations

from typing import Iterable, Optional

from ._decision import Decision, cannot_decide
from ._events import EVENT_METHODS, EVENTS


class Hook:
    """Subclass it and override the events you care about.

    Blocking events (on_server_start, on_client_connect, on_tunnel_open,
    on_visitor_connect) return allow(), deny(reason) or cannot_decide(why).
    Notifications return nothing. Requests are the generated messages of
    hook.proto (reitunnel_hookd.pb), e.g. request.tunnel_name and
    request.metadata["label.team"].

    HookServer tells the server which events the hook implements (the
    Describe RPC): those whose methods its class overrides, unless
    implemented_events() says otherwise. The server sends nothing else.

    HookServer calls hooks from several gRPC threads at once: guard mutable
    state with a lock. Blocking in hook code (a database lookup) is fine, but
    the server waits only for its configured timeout. An exception in hook
    code is "cannot decide" for a blocking event and logged for a
    notification.
    """

    def implemented_events(self) -> Optional[Iterable[str]]:
        """The events this hook implements, when only known at run time.

        None (the default) means the events whose methods the hook's class
        overrides. Names: "server_start", "server_stop", "client_connect",
        "client_disconnect", "tunnel_open", "tunnel_close", "data", "error",
        "visitor_connect", "visitor_disconnect"."""
        return None

    # Blocking events. The base class's answers are only reached by a hook
    # that lists an event in implemented_events() without overriding it: no
    # decision, never an allow.
    def on_server_start(self, request) -> Decision:
        return cannot_decide("on_server_start is not implemented by this hook")

    def on_client_connect(self, request) -> Decision:
        return cannot_decide("on_client_connect is not implemented by this hook")

    def on_tunnel_open(self, request) -> Decision:
        return cannot_decide("on_tunnel_open is not implemented by this hook")

    def on_visitor_connect(self, request) -> Decision:
        return cannot_decide("on_visitor_connect is not implemented by this hook")

    # Notifications.
    def on_server_stop(self, request) -> None:
        pass

    def on_client_disconnect(self, request) -> None:
        pass

    def on_tunnel_close(self, request) -> None:
        pass

    def on_error(self, event) -> None:
        pass

    def on_visitor_disconnect(self, request) -> None:
        pass

    # Traffic: one DataBatch per flush window of the server. The default
    # calls on_data_sent for every tunnel entry with bytes_sent > 0 and
    # on_data_received for every entry with bytes_received > 0, in batch
    # order: override on_data_batch (to see sequence numbers and windows) or
    # the per-tunnel conveniences, not both.
    def on_data_batch(self, batch) -> None:
        for traffic in batch.tunnels:
            if traffic.bytes_sent > 0:
                self.on_data_sent(traffic)
            if traffic.bytes_received > 0:
                self.on_data_received(traffic)

    def on_data_sent(self, traffic) -> None:
        """Bytes from the agent's service back to visitors since the last batch."""

    def on_data_received(self, traffic) -> None:
        """Bytes from visitors towards the agent's service since the last batch."""


def overridden_events(hook: Hook) -> list:
    """The events whose methods the class of `hook` overrides."""
    cls = type(hook)
    return [event for event in EVENTS
            if any(getattr(cls, m) is not getattr(Hook, m) for m in EVENT_METHODS[event])]


def implemented_events(hook: Hook) -> list:
    """What `hook` declares: implemented_events() if it says, else its
    overrides. Raises ValueError for a name the contract does not have."""
    if not isinstance(hook, Hook):
        raise TypeError(f"{hook!r} is not a reitunnel_hookd.Hook")
    declared = hook.implemented_events()
    if declared is None:
        return overridden_events(hook)
    if isinstance(declared, str):
        raise TypeError(f"{type(hook).__name__}.implemented_events() must return a list of "
                        f"event names, not a string")
    declared = list(declared)
    unknown = [e for e in declared if e not in EVENTS]
    if unknown:
        raise ValueError(f"{type(hook).__name__}.implemented_events(): unknown event "
                         f"{unknown[0]!r} (known: {', '.join(EVENTS)})")
    return [e for e in EVENTS if e in declared]
