"""What a hook service's main() repeats: the shared command-line flags, and a
run loop that announces the bound address on stdout."""

from __future__ import annotations

import argparse
import json
import sys

from ._server import HookServer, HookServerError


def add_server_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds --listen, --strategy, --tls-cert, --tls-key and --tls-client-ca."""
    group = parser.add_argument_group("hook server")
    group.add_argument("--listen", default="127.0.0.1:7100", metavar="ADDR",
                       help="host:port (port 0 picks a free port) or unix:///path "
                            "(default %(default)s)")
    group.add_argument("--strategy", default="stop_on_error",
                       choices=["stop_on_error", "collect_and_continue"],
                       help="how blocking events are decided across several hooks")
    group.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this PEM certificate")
    group.add_argument("--tls-key", metavar="FILE", help="... and this key")
    group.add_argument("--tls-client-ca", metavar="FILE",
                       help="require client certificates signed by this CA (mTLS)")
    return parser


def server_from_args(args: argparse.Namespace, **options) -> HookServer:
    """A HookServer configured from add_server_arguments' flags; `options`
    are passed on (name=..., shutdown_grace=...)."""
    return HookServer(args.listen, strategy=args.strategy, tls_cert_file=args.tls_cert,
                      tls_key_file=args.tls_key, tls_client_ca_file=args.tls_client_ca,
                      **options)


def serve(server: HookServer, out=None, **listening_extra) -> int:
    """Starts `server`, prints {"event":"listening","address":...,"port":...}
    as one line on stdout, waits for SIGTERM/SIGINT and prints
    {"event":"stopped","signal":"SIGTERM"}. Returns the exit code: 0, or 1
    when the server cannot start (the reason goes to stderr)."""
    out = out or sys.stdout
    try:
        server.start()
    except (HookServerError, ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    line = {"event": "listening", "address": server.address, "port": server.port,
            "events": server.implemented_events}
    line.update(listening_extra)
    out.write(json.dumps(line) + "\n")
    out.flush()
    server.wait()
    out.write(json.dumps({"event": "stopped", "signal": server.stop_signal or "none"}) + "\n")
    out.flush()
    return 0


def main(*hooks, argv=None, description=None, name="") -> int:
    """A complete main() for hooks that take no flags of their own:

        if __name__ == "__main__":
            sys.exit(reitunnel_hookd.main(MyHook()))
    """
    parser = add_server_arguments(argparse.ArgumentParser(description=description))
    args = parser.parse_args(argv)
    server = server_from_args(args, name=name)
    for hook in hooks:
        server.add_hook(hook)
    return serve(server)
