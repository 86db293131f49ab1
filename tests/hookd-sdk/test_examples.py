"""The example hook services as processes, called the way reitunneld calls them.

Needs REITUNNEL_BIN_DIR (build/bin) and REITUNNEL_HOOK_STUBS (build/python,
made by the hookd_python_stubs target: hook stubs and the staged Python SDK),
and Debian's python3-grpcio.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

BIN = os.environ.get("REITUNNEL_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
STUBS = os.environ.get("REITUNNEL_HOOK_STUBS", os.path.join(BIN, "..", "python"))
sys.path.insert(0, STUBS)

from reitunnel.hook.v1 import hook_pb2, hook_pb2_grpc  # noqa: E402
# grpc.health.v1 stubs, generated with the Python SDK from Debian's grpc-proto.
from reitunnel_hookd._proto.grpc.health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

ALL_EVENTS = ["server_start", "server_stop", "client_connect", "client_disconnect",
              "tunnel_open", "tunnel_close", "data", "error", "visitor_connect",
              "visitor_disconnect"]

RPC_TIMEOUT = 10
START_TIMEOUT = 30  # sanitizer builds start slowly


class HookProcess:
    """A hook service started on 127.0.0.1:0; reads its JSON lines."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv + ["--listen=127.0.0.1:0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()
        listening = self.next_event("listening", timeout=START_TIMEOUT)
        self.address = listening["address"]
        self.channel = grpc.insecure_channel(self.address)
        self.stub = hook_pb2_grpc.HookServiceStub(self.channel)

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def next_event(self, name, timeout=RPC_TIMEOUT, **match):
        """Returns the next JSON line with "event" == name (and the given fields)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {name} event {match}; seen: {self.seen}")
            if line is None:
                raise AssertionError(f"exited before a {name} event: {self.proc.stderr.read()}")
            event = json.loads(line)
            self.seen.append(event)
            if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                return event

    def stop(self):
        self.channel.close()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, stderr


class ExampleTestCase(unittest.TestCase):
    def start(self, *argv):
        hook = HookProcess(list(argv))
        self.addCleanup(self._stop, hook)
        return hook

    def _stop(self, hook):
        if hook.proc.poll() is None:
            code, stderr = hook.stop()
            self.assertEqual(code, 0, stderr)

    def open_tunnel(self, hook, name="web", client_id="c1", tunnel_id="t1", remote_port=0,
                    labels=None):
        request = hook_pb2.TunnelOpenRequest(client_id=client_id, tunnel_id=tunnel_id,
                                             tunnel_name=name, remote_port=remote_port,
                                             local_addr="127.0.0.1:8080")
        for k, v in (labels or {}).items():
            request.metadata["label." + k] = v
        request.metadata["tunnel_name"] = name
        return hook.stub.OnTunnelOpen(request, timeout=RPC_TIMEOUT)

    def connect(self, hook, client_id="c1", labels=None, metadata=None):
        request = hook_pb2.ClientConnectRequest(client_id=client_id)
        request.metadata["remote_addr"] = "127.0.0.1:50000"
        request.metadata["agent_version"] = "0.1.0"
        request.metadata.update(metadata or {})
        for k, v in (labels or {}).items():
            request.metadata["label." + k] = v
        return hook.stub.OnClientConnect(request, timeout=RPC_TIMEOUT)

    def assertAllowed(self, answer):
        self.assertEqual(answer.decision, hook_pb2.ALLOW, answer.reason)

    def assertDenied(self, answer, reason):
        self.assertEqual(answer.decision, hook_pb2.DENY)
        self.assertEqual(answer.reason, reason)

    def stream(self, hook, *batches):
        return hook.stub.StreamDataEvents(iter(batches), timeout=RPC_TIMEOUT)

    def assertDescribes(self, hook, events, sdk_prefix="reitunnel-hookd-cpp/"):
        answer = hook.stub.Describe(hook_pb2.DescribeRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(list(answer.events), events)
        self.assertTrue(answer.sdk.startswith(sdk_prefix), answer.sdk)

    def assertHelp(self, argv, *expected):
        result = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        for text in ("usage", "--listen") + expected:
            self.assertIn(text, result.stdout)

    def assertServing(self, hook):
        health = health_pb2_grpc.HealthStub(hook.channel)
        for service in ("", "reitunnel.hook.v1.HookService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service),
                                  timeout=RPC_TIMEOUT)
            self.assertEqual(answer.status, health_pb2.HealthCheckResponse.SERVING)


def batch(sequence, *tunnels, instance="i1"):
    b = hook_pb2.DataBatch(sequence=sequence)
    b.context.server.instance_id = instance
    for client_id, tunnel_id, sent, received in tunnels:
        b.tunnels.add(client_id=client_id, tunnel_id=tunnel_id, bytes_sent=sent,
                      bytes_received=received, sent_events=1, received_events=1)
    return b


class MinimalHookTest(ExampleTestCase):
    def test_denies_admin_tunnels_and_stops_on_sigterm(self):
        hook = self.start(os.path.join(BIN, "minimal-hook"))
        self.assertDenied(self.open_tunnel(hook, "admin-panel"),
                          'tunnel names starting with "admin" are reserved')
        self.assertAllowed(self.open_tunnel(hook, "web"))
        self.assertDescribes(hook, ["tunnel_open"])
        # Not its event: never an allow.
        with self.assertRaises(grpc.RpcError) as caught:
            self.connect(hook)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertServing(hook)
        code, stderr = hook.stop()
        self.assertEqual(code, 0, stderr)
        hook.next_event("stopped", signal="SIGTERM")

    def test_inline_execution_answers_alike(self):
        hook = self.start(os.path.join(BIN, "minimal-hook"), "--execution=inline")
        self.assertDenied(self.open_tunnel(hook, "admin-panel"),
                          'tunnel names starting with "admin" are reserved')
        self.assertAllowed(self.open_tunnel(hook, "web"))
        self.assertDescribes(hook, ["tunnel_open"])
        self.assertServing(hook)

    def test_rejects_unknown_flags_and_answers_help(self):
        result = subprocess.run([os.path.join(BIN, "minimal-hook"), "--bogus"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn('unknown argument "--bogus"', result.stderr)
        self.assertHelp([os.path.join(BIN, "minimal-hook")], "--execution")


class AuthHookTest(ExampleTestCase):
    def setUp(self):
        self.hook = self.start(os.path.join(BIN, "auth-hook"), "--allow-label=team=blue",
                               "--allow-ports=20000-20100", "--deny-tunnel-name=^admin")

    def test_describes_and_answers_help(self):
        self.assertDescribes(self.hook, ["client_connect", "tunnel_open"])
        self.assertHelp([os.path.join(BIN, "auth-hook")], "--allow-label", "--execution")

    def test_label_allowlist(self):
        self.assertAllowed(self.connect(self.hook, labels={"team": "blue", "zone": "eu"}))
        self.assertDenied(self.connect(self.hook, "c2", labels={"team": "red", "zone": "eu"}),
                          "agent not allowed: needs label team=blue "
                          "(agent labels: team=red, zone=eu)")
        self.assertDenied(self.connect(self.hook, "c3"),
                          "agent not allowed: needs label team=blue (agent has no labels)")
        event = self.hook.next_event("client_connect", client_id="c2")
        self.assertEqual(event["decision"], "deny")

    def test_port_range(self):
        self.assertAllowed(self.open_tunnel(self.hook, remote_port=20050))
        self.assertAllowed(self.open_tunnel(self.hook, remote_port=0))  # server picks
        self.assertDenied(self.open_tunnel(self.hook, remote_port=8080),
                          "remote port 8080 is outside the allowed range 20000-20100")

    def test_reserved_names(self):
        self.assertDenied(self.open_tunnel(self.hook, "admin"),
                          'tunnel name "admin" is reserved by policy')
        self.assertAllowed(self.open_tunnel(self.hook, "web-admin"))  # anchored at ^
        self.hook.next_event("tunnel_open", tunnel_name="admin", decision="deny")


class AuthHookIdentityTest(ExampleTestCase):
    def test_only_proven_identities_pass(self):
        hook = self.start(os.path.join(BIN, "auth-hook"), "--allow-agent=web-1",
                          "--allow-agent=db-7")
        self.assertAllowed(self.connect(hook, metadata={"agent_id": "web-1",
                                                        "auth": "agent_token"}))
        self.assertDenied(self.connect(hook, "c2", metadata={"agent_id": "cache-2"}),
                          'agent "cache-2" is not allowed')
        # The same id sent with the shared token is only a claim.
        self.assertDenied(self.connect(hook, "c3", metadata={"claimed_agent_id": "web-1",
                                                             "auth": "shared_token"}),
                          'agent id "web-1" was not proven (shared token): not allowed')
        self.assertDenied(self.connect(hook, "c4"),
                          "agent has no verified identity: not allowed")

    def test_identity_and_label_rules_both_apply(self):
        hook = self.start(os.path.join(BIN, "auth-hook"), "--allow-agent=web-1",
                          "--allow-label=team=blue")
        self.assertAllowed(self.connect(hook, labels={"team": "blue"},
                                        metadata={"agent_id": "web-1"}))
        self.assertEqual(self.connect(hook, "c2", labels={"team": "red"},
                                      metadata={"agent_id": "web-1"}).decision, hook_pb2.DENY)


class AuthHookPolicyFileTest(ExampleTestCase):
    def test_policy_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".policy", delete=False) as f:
            f.write("# who may connect\nallow-label=team=green\n\n  deny-tunnel-name=^db$  \n")
        self.addCleanup(os.unlink, f.name)
        hook = self.start(os.path.join(BIN, "auth-hook"), f"--policy={f.name}")
        self.assertAllowed(self.connect(hook, labels={"team": "green"}))
        self.assertEqual(self.connect(hook, labels={"team": "blue"}).decision, hook_pb2.DENY)
        self.assertEqual(self.open_tunnel(hook, "db").decision, hook_pb2.DENY)
        self.assertAllowed(self.open_tunnel(hook, "db2"))

    def test_bad_policy_is_refused_at_start(self):
        for args, message in ((["--deny-tunnel-name=("], "bad regex"),
                              (["--allow-ports=20100-20000"], "want LOW-HIGH"),
                              (["--allow-label=team"], "want KEY=VALUE"),
                              (["--policy=/nonexistent"], "cannot read policy file")):
            result = subprocess.run([os.path.join(BIN, "auth-hook")] + args,
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(message, result.stderr)


class QuotaHookTest(ExampleTestCase):
    def test_denies_new_tunnels_over_quota(self):
        hook = self.start(os.path.join(BIN, "quota-hook"), "--quota-bytes=1000")
        self.assertAllowed(self.connect(hook, "c1"))
        self.assertAllowed(self.open_tunnel(hook, client_id="c1", tunnel_id="t1"))
        # The stream's Ack comes once every batch was handled.
        self.stream(hook, batch(1, ("c1", "t1", 600, 300)), batch(2, ("c1", "t1", 50, 50)))
        self.assertDenied(self.open_tunnel(hook, client_id="c1", tunnel_id="t2"),
                          "quota exceeded: 1000 of 1000 bytes used")
        # Other agents have their own account.
        self.assertAllowed(self.open_tunnel(hook, client_id="c2", tunnel_id="t3"))

        # The exact close totals replace the batched count; later batches for
        # the closed tunnel are not counted twice.
        close = hook_pb2.TunnelCloseRequest(client_id="c1", tunnel_id="t1", bytes_sent=1500,
                                            bytes_received=548)
        hook.stub.OnTunnelClose(close, timeout=RPC_TIMEOUT)
        self.stream(hook, batch(3, ("c1", "t1", 100, 0)))
        self.assertDenied(self.open_tunnel(hook, client_id="c1", tunnel_id="t4"),
                          "quota exceeded: 2048 of 1000 bytes used")
        event = hook.next_event("tunnel_open", client_id="c1", decision="deny")
        self.assertEqual(event["quota_bytes"], 1000)

    def test_account_by_label(self):
        hook = self.start(os.path.join(BIN, "quota-hook"), "--quota-bytes=100",
                          "--account-label=team")
        self.assertAllowed(self.connect(hook, "c1", labels={"team": "blue"}))
        self.assertAllowed(self.connect(hook, "c2", labels={"team": "blue"}))
        self.assertAllowed(self.connect(hook, "c3", labels={"team": "red"}))
        self.stream(hook, batch(1, ("c1", "t1", 60, 0), ("c2", "t2", 0, 60)))
        # c2 never moved 100 bytes itself, but team=blue did.
        self.assertDenied(self.open_tunnel(hook, client_id="c2", tunnel_id="t5",
                                           labels={"team": "blue"}),
                          "quota exceeded: 120 of 100 bytes used")
        self.assertAllowed(self.open_tunnel(hook, client_id="c3", tunnel_id="t6",
                                            labels={"team": "red"}))

    def test_describes_and_answers_help(self):
        hook = self.start(os.path.join(BIN, "quota-hook"), "--quota-bytes=1")
        self.assertDescribes(hook, ["client_connect", "client_disconnect", "tunnel_open",
                                    "tunnel_close", "data"])
        self.assertHelp([os.path.join(BIN, "quota-hook")], "--quota-bytes")

    def test_requires_quota(self):
        result = subprocess.run([os.path.join(BIN, "quota-hook")], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--quota-bytes is required", result.stderr)


class AuditHookTest(ExampleTestCase):
    def test_describes_every_event_and_answers_help(self):
        hook = self.start(os.path.join(BIN, "audit-hook"))
        self.assertDescribes(hook, ALL_EVENTS)
        self.assertHelp([os.path.join(BIN, "audit-hook")])

    def test_one_json_line_per_event(self):
        hook = self.start(os.path.join(BIN, "audit-hook"))
        self.assertAllowed(self.connect(hook, "c1", labels={"team": "blue"}))
        self.assertAllowed(self.open_tunnel(hook, "web", client_id="c1", tunnel_id="t1"))
        self.stream(hook, batch(1, ("c1", "t1", 10, 20)), batch(2, ("c1", "t1", 1, 2)),
                    batch(5, ("c1", "t1", 3, 4)))
        close = hook_pb2.TunnelCloseRequest(client_id="c1", tunnel_id="t1", bytes_sent=14,
                                            bytes_received=26, reason="agent closed")
        hook.stub.OnTunnelClose(close, timeout=RPC_TIMEOUT)
        hook.stub.OnError(hook_pb2.ErrorEvent(component="relay", message="boom"),
                          timeout=RPC_TIMEOUT)

        event = hook.next_event("client_connect")
        self.assertEqual(event["client_id"], "c1")
        self.assertEqual(event["metadata"]["label.team"], "blue")
        self.assertIn("audit_time", event)
        event = hook.next_event("tunnel_open")
        self.assertEqual((event["tunnel_id"], event["tunnel_name"]), ("t1", "web"))
        batches = [hook.next_event("data_batch") for _ in range(3)]
        self.assertEqual([b["sequence"] for b in batches], ["1", "2", "5"])
        self.assertEqual(batches[0]["tunnels"][0]["bytes_received"], "20")
        self.assertNotIn("missed_batches", batches[1])
        self.assertEqual(batches[2]["missed_batches"], 2)
        event = hook.next_event("tunnel_close")
        self.assertEqual((event["bytes_sent"], event["bytes_received"]), ("14", "26"))
        hook.next_event("error", component="relay", message="boom")


class PythonHookServiceTest(ExampleTestCase):
    def test_policy_logging_stream_and_health(self):
        script = os.path.join(STUBS, "hook_service.py")
        hook = self.start("/usr/bin/python3", script, "--deny-tunnel-name=^admin",
                          "--allow-label=team=blue")
        self.assertAllowed(self.connect(hook, labels={"team": "blue"}))
        self.assertDenied(self.connect(hook, "c2", labels={"team": "red"}),
                          "agent not allowed: needs label team=blue")
        self.assertDenied(self.open_tunnel(hook, "admin"),
                          'tunnel name "admin" is reserved by policy')
        self.assertAllowed(self.open_tunnel(hook, "web"))
        self.stream(hook, batch(1, ("c1", "t1", 5, 6)), batch(3, ("c1", "t1", 1, 1)))
        self.assertServing(hook)
        self.assertDescribes(hook, ALL_EVENTS, sdk_prefix="reitunnel-hookd-python/")
        self.assertHelp(["/usr/bin/python3", script], "--deny-tunnel-name", "--tls-client-ca")

        hook.next_event("client_connect", client_id="c2", decision="deny")
        hook.next_event("tunnel_open", tunnel_name="admin", decision="deny")
        first = hook.next_event("data_batch", sequence="1")
        self.assertEqual(first["tunnels"][0]["bytes_sent"], "5")
        self.assertEqual(hook.next_event("data_batch")["missed_batches"], 1)
        code, stderr = hook.stop()
        self.assertEqual(code, 0, stderr)
        hook.next_event("stopped", signal="SIGTERM")


if __name__ == "__main__":
    unittest.main()
