"""Write Reitunnel hook services in Python.

    from reitunnel_hookd import Hook, allow, deny, main

    class DenyAdmin(Hook):
        def on_tunnel_open(self, request):
            if request.tunnel_name.startswith("admin"):
                return deny("admin tunnels are reserved")
            return allow()

    raise SystemExit(main(DenyAdmin()))

See hookd-sdk/README.md for the whole contract.
"""

from ._cli import add_server_arguments, main, serve, server_from_args
from ._decision import Decision, allow, cannot_decide, deny
from ._events import BLOCKING_EVENTS, EVENTS
from ._hook import Hook, implemented_events, overridden_events
from ._proto.reitunnel.hook.v1 import hook_pb2 as pb
from ._proto.reitunnel.hook.v1 import hook_pb2_grpc as pb_grpc
from ._server import HookServer, HookServerError
from ._service import SDK, Strategy
from ._traffic import TrafficTotals, TunnelTotals
from ._version import __version__

__all__ = [
    "BLOCKING_EVENTS",
    "Decision",
    "EVENTS",
    "Hook",
    "HookServer",
    "HookServerError",
    "SDK",
    "Strategy",
    "TrafficTotals",
    "TunnelTotals",
    "__version__",
    "add_server_arguments",
    "allow",
    "cannot_decide",
    "deny",
    "implemented_events",
    "main",
    "overridden_events",
    "pb",
    "pb_grpc",
    "serve",
    "server_from_args",
]
