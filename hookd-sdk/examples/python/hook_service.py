#!/usr/bin/python3
"""A Reitunnel hook service in Python, on the reitunnel_hookd SDK.

    /usr/bin/python3 -m venv --system-site-packages venv
    venv/bin/pip install --no-build-isolation --no-deps ./hookd-sdk/python
    venv/bin/python hookd-sdk/examples/python/hook_service.py --listen=127.0.0.1:7100 \
        --deny-tunnel-name='^admin' --allow-label=team=blue

(or, without installing: `ninja -C build hookd_python_stubs` stages the SDK
and a copy of this file in build/python/; run build/python/hook_service.py.)

Policy: OnClientConnect allows agents carrying one of the --allow-label
KEY=VALUE labels (every agent when none is given); OnTunnelOpen denies tunnel
names matching any --deny-tunnel-name regex (searched anywhere in the name).
Every event, including each data batch, is logged as one JSON line on
stdout; a batch after a sequence gap carries "missed_batches". On startup it
prints {"event":"listening","port":N,...} with the bound port (--listen=HOST:0
picks one). SIGTERM/SIGINT stop it.

gRPC calls the hook from several threads: the policy is read-only, and each
log line is one write under a lock.
"""

import argparse
import datetime
import json
import os
import re
import sys
import threading

# Next to the staged SDK in build/python/; REITUNNEL_HOOK_STUBS (or
# PYTHONPATH) can point there from elsewhere. An installed SDK needs neither.
for _path in (os.environ.get("REITUNNEL_HOOK_STUBS"), os.path.dirname(os.path.abspath(__file__))):
    if _path and _path not in sys.path:
        sys.path.append(_path)

try:
    import reitunnel_hookd as hookd
except ImportError as e:
    sys.exit(f"hook_service.py: cannot import reitunnel_hookd ({e}); install it with "
             "`pip install --no-build-isolation --no-deps ./hookd-sdk/python` or run "
             "build/python/hook_service.py after `ninja -C build hookd_python_stubs`")
from google.protobuf import json_format  # noqa: E402

_print_lock = threading.Lock()


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def log_event(event, message, **extra):
    record = {"event": event,
              "audit_time": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    record.update(extra)
    record.update(json_format.MessageToDict(message, preserving_proto_field_name=True))
    emit(record)


class PolicyHook(hookd.Hook):
    def __init__(self, allow_labels, deny_names):
        self._allow_labels = allow_labels  # [(key, value)]
        self._deny_names = deny_names      # [compiled regex]
        self._traffic = hookd.TrafficTotals()

    @staticmethod
    def _decided(event, request, decision):
        extra = {"decision": "allow" if decision.allowed else "deny"}
        if decision.reason:
            extra["reason"] = decision.reason
        log_event(event, request, **extra)
        return decision

    def on_server_start(self, request):
        return self._decided("server_start", request, hookd.allow())

    def on_client_connect(self, request):
        decision = hookd.allow()
        if self._allow_labels and not any(request.metadata.get("label." + k) == v
                                          for k, v in self._allow_labels):
            wanted = " or ".join(f"{k}={v}" for k, v in self._allow_labels)
            decision = hookd.deny(f"agent not allowed: needs label {wanted}")
        return self._decided("client_connect", request, decision)

    def on_tunnel_open(self, request):
        decision = hookd.allow()
        if any(r.search(request.tunnel_name) for r in self._deny_names):
            decision = hookd.deny(f'tunnel name "{request.tunnel_name}" is reserved by policy')
        return self._decided("tunnel_open", request, decision)

    def on_visitor_connect(self, request):
        return self._decided("visitor_connect", request, hookd.allow())

    def on_server_stop(self, request):
        log_event("server_stop", request)

    def on_client_disconnect(self, request):
        log_event("client_disconnect", request)

    def on_tunnel_close(self, request):
        seen = self._traffic.close(request.tunnel_id)
        log_event("tunnel_close", request, batched_bytes_received=seen.bytes_received,
                  batched_bytes_sent=seen.bytes_sent)

    def on_error(self, event):
        log_event("error", event)

    def on_visitor_disconnect(self, request):
        log_event("visitor_disconnect", request)

    def on_data_batch(self, batch):
        missed = self._traffic.add_batch(batch)
        log_event("data_batch", batch, **({"missed_batches": missed} if missed else {}))


def parse_args(argv):
    p = argparse.ArgumentParser(description="Reitunnel hook service (Python example)")
    hookd.add_server_arguments(p)
    p.add_argument("--deny-tunnel-name", action="append", default=[], metavar="REGEX",
                   help="deny tunnels whose name matches (repeatable)")
    p.add_argument("--allow-label", action="append", default=[], metavar="KEY=VALUE",
                   help="allow only agents carrying one of these labels (repeatable)")
    args = p.parse_args(argv)
    try:
        args.deny_tunnel_name = [re.compile(r) for r in args.deny_tunnel_name]
    except re.error as e:
        p.error(f"--deny-tunnel-name: bad regex: {e}")
    labels = []
    for item in args.allow_label:
        key, sep, value = item.partition("=")
        if not key or not sep:
            p.error(f"--allow-label={item}: want KEY=VALUE")
        labels.append((key, value))
    args.allow_label = labels
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def main(argv):
    args = parse_args(argv)
    server = hookd.server_from_args(args, name="hook_service.py")
    server.add_hook(PolicyHook(args.allow_label, args.deny_tunnel_name))
    return hookd.serve(server, health=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
