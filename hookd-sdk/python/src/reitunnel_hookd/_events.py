"""The events of the hook contract and the Hook methods behind each."""

# Named as in the server's hook config and DescribeResponse.events, in the
# contract's order.
EVENTS = (
    "server_start",
    "server_stop",
    "client_connect",
    "client_disconnect",
    "tunnel_open",
    "tunnel_close",
    "data",
    "error",
    "visitor_connect",
    "visitor_disconnect",
)

BLOCKING_EVENTS = frozenset({"server_start", "client_connect", "tunnel_open", "visitor_connect"})

# Overriding any of an event's methods implements the event. The default
# on_data_batch feeds on_data_sent/on_data_received, so any of the three
# means the hook wants the data stream.
EVENT_METHODS = {
    "server_start": ("on_server_start",),
    "server_stop": ("on_server_stop",),
    "client_connect": ("on_client_connect",),
    "client_disconnect": ("on_client_disconnect",),
    "tunnel_open": ("on_tunnel_open",),
    "tunnel_close": ("on_tunnel_close",),
    "data": ("on_data_batch", "on_data_sent", "on_data_received"),
    "error": ("on_error",),
    "visitor_connect": ("on_visitor_connect",),
    "visitor_disconnect": ("on_visitor_disconnect",),
}


def sort_events(events):
    """`events` as a list in the contract's order."""
    return [e for e in EVENTS if e in set(events)]
