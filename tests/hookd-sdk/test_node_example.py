"""hookd-sdk/examples/node/hook.js as a process, called the way reitunneld
calls it: Describe, the veto by name, byte totals from data batches and
OnTunnelClose, health, and SIGTERM with the data stream still open.

Installs the pinned npm packages with examples/node/install.sh into
$REITUNNEL_NODE_DIR (ctest: build/hookd-node); skips when node or npm are
missing.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("REITUNNEL_BIN_DIR", os.path.join(REPO, "build", "bin"))
STUBS = os.environ.get("REITUNNEL_HOOK_STUBS", os.path.join(BIN, "..", "python"))
NODE_DIR = os.environ.get("REITUNNEL_NODE_DIR", os.path.join(BIN, "..", "hookd-node"))
EXAMPLE = os.path.join(REPO, "hookd-sdk", "examples", "node")
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from reitunnel.hook.v1 import hook_pb2, hook_pb2_grpc  # noqa: E402
from reitunnel_hookd._proto.grpc.health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

RPC_TIMEOUT = 10


def node_modules():
    """Installs the example's packages once; returns node_modules or skips."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise unittest.SkipTest(f"{' and '.join(missing)} not found: the Node.js example needs "
                                f"Node.js >= 18 with npm")
    subprocess.run([os.path.join(EXAMPLE, "install.sh"), NODE_DIR], check=True, timeout=600)
    return os.path.join(NODE_DIR, "node_modules")


class NodeHook:
    def __init__(self, *flags):
        env = dict(os.environ, NODE_PATH=node_modules())
        self.proc = subprocess.Popen(["node", os.path.join(EXAMPLE, "hook.js"),
                                      "--listen=127.0.0.1:0", *flags],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.listening = self.next_event("listening")
        self.channel = grpc.insecure_channel(self.listening["address"])
        self.stub = hook_pb2_grpc.HookServiceStub(self.channel)

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def next_event(self, name, timeout=RPC_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"hook.js logged no {name} event in {timeout}s")
            if event is None:
                raise AssertionError(f"hook.js exited before {name}: {self.proc.stderr.read()}")
            if event["event"] == name:
                return event

    def close(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def batch(sequence, *tunnels, instance="i1"):
    b = hook_pb2.DataBatch(sequence=sequence)
    b.context.server.instance_id = instance
    for tunnel_id, received, sent in tunnels:
        b.tunnels.add(client_id="c1", tunnel_id=tunnel_id, tunnel_name="web",
                      bytes_received=received, bytes_sent=sent)
    return b


class NodeExampleTest(unittest.TestCase):
    def start(self, *flags):
        hook = NodeHook(*flags)
        self.addCleanup(hook.close)
        return hook

    def test_describe_veto_and_health(self):
        hook = self.start("--deny-names=admin,db")
        answer = hook.stub.Describe(hook_pb2.DescribeRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(list(answer.events), ["tunnel_open", "tunnel_close", "data"])
        self.assertEqual(answer.name, "node-example-hook/0.1.0")
        for name, decision in (("admin", hook_pb2.DENY), ("db", hook_pb2.DENY),
                               ("web", hook_pb2.ALLOW), ("admin2", hook_pb2.ALLOW)):
            response = hook.stub.OnTunnelOpen(hook_pb2.TunnelOpenRequest(tunnel_name=name),
                                              timeout=RPC_TIMEOUT)
            self.assertEqual(response.decision, decision, name)
        self.assertEqual(hook.next_event("tunnel_open")["reason"],
                         'tunnel name "admin" is not allowed')
        # Not declared, so never an allow.
        with self.assertRaises(grpc.RpcError) as caught:
            hook.stub.OnClientConnect(hook_pb2.ClientConnectRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        health = health_pb2_grpc.HealthStub(hook.channel)
        for service in ("", "reitunnel.hook.v1.HookService"):
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(service=service),
                                          timeout=RPC_TIMEOUT).status,
                             health_pb2.HealthCheckResponse.SERVING)

    def test_counts_bytes_per_tunnel_and_reports_them_at_close(self):
        hook = self.start()
        hook.stub.StreamDataEvents(iter([batch(1, ("t1", 100, 1000), ("t2", 1, 2)),
                                         batch(2, ("t1", 23, 4)),
                                         batch(5, ("t1", 2**40, 0))]), timeout=RPC_TIMEOUT)
        self.assertNotIn("missed_batches", hook.next_event("data_batch"))
        second = hook.next_event("data_batch")
        self.assertEqual(second["tunnels"], [{"tunnel_id": "t1", "tunnel_name": "web",
                                              "bytes_received": 123, "bytes_sent": 1004}])
        self.assertEqual(hook.next_event("data_batch")["missed_batches"], 2)
        close = hook_pb2.TunnelCloseRequest(client_id="c1", tunnel_id="t1", reason="done",
                                            bytes_received=2**40 + 123, bytes_sent=1004,
                                            visitors=3)
        close.metadata["tunnel_name"] = "web"
        hook.stub.OnTunnelClose(close, timeout=RPC_TIMEOUT)
        event = hook.next_event("tunnel_close")
        self.assertEqual((event["bytes_received"], event["bytes_sent"], event["visitors"]),
                         (2**40 + 123, 1004, 3))
        self.assertEqual((event["batched_bytes_received"], event["batched_bytes_sent"]),
                         (2**40 + 123, 1004))
        # A batch still in flight for the closed tunnel is not counted again.
        hook.stub.StreamDataEvents(iter([batch(6, ("t1", 5, 5), ("t2", 1, 1))]),
                                   timeout=RPC_TIMEOUT)
        self.assertEqual(hook.next_event("data_batch")["tunnels"],
                         [{"tunnel_id": "t2", "tunnel_name": "web", "bytes_received": 2,
                           "bytes_sent": 3}])

    def test_sigterm_with_an_open_data_stream_exits_0(self):
        hook = self.start("--grace-ms=200")
        release = threading.Event()

        def batches():
            yield batch(1, ("t1", 1, 1))
            release.wait(30)

        future = hook.stub.StreamDataEvents.future(batches(), timeout=30)
        hook.next_event("data_batch")
        hook.proc.send_signal(signal.SIGTERM)
        self.assertEqual(hook.next_event("stopped")["signal"], "SIGTERM")
        self.assertEqual(hook.proc.wait(timeout=30), 0)
        release.set()
        with self.assertRaises(grpc.RpcError):
            future.result(timeout=30)

    def test_help_and_bad_flags(self):
        env = dict(os.environ, NODE_PATH=node_modules())
        script = os.path.join(EXAMPLE, "hook.js")
        result = subprocess.run(["node", script, "--help"], capture_output=True, text=True,
                                env=env, timeout=30)
        self.assertEqual(result.returncode, 0)
        self.assertIn("--deny-names=A,B", result.stdout)
        result = subprocess.run(["node", script, "--deny=admin"], capture_output=True, text=True,
                                env=env, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn('unknown flag "--deny"', result.stderr)


if __name__ == "__main__":
    unittest.main()
