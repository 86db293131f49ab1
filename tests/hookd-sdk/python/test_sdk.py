"""The Python SDK (hookd-sdk/python) over real local gRPC channels: Describe,
the three-state answers, strategies, exceptions in hook code, data batches
and TrafficTotals, health, reflection, TLS/mTLS, and SIGTERM.

Runs on the SDK staged in build/python (REITUNNEL_HOOK_STUBS) with Debian's
/usr/bin/python3; test_pip_install.py covers the installed package.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import sdk_env  # noqa: F401  (puts the SDK on sys.path)

import grpc
import reitunnel_hookd as hookd
from reitunnel_hookd import pb, pb_grpc
from reitunnel_hookd._proto.grpc.health.v1 import health_pb2, health_pb2_grpc
from reitunnel_hookd._proto.grpc.reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

RPC_TIMEOUT = 10


class Recorder(hookd.Hook):
    """Answers every blocking event with `answer`, records what it saw."""

    def __init__(self, answer=None):
        self.answer = answer or hookd.allow()
        self.asked = 0
        self.closed = []
        self._lock = threading.Lock()

    def _answer(self):
        with self._lock:
            self.asked += 1
        return self.answer

    def on_server_start(self, request):
        return self._answer()

    def on_client_connect(self, request):
        return self._answer()

    def on_tunnel_open(self, request):
        return self._answer()

    def on_visitor_connect(self, request):
        return self._answer()

    def on_tunnel_close(self, request):
        with self._lock:
            self.closed.append(request.tunnel_id)


class TunnelVeto(hookd.Hook):
    def on_tunnel_open(self, request):
        if request.tunnel_name.startswith("admin"):
            return hookd.deny("admin tunnels are reserved")
        return hookd.allow()


class AgentVeto(hookd.Hook):
    def on_client_connect(self, request):
        return hookd.deny("agent hook says no")

    def on_client_disconnect(self, request):
        pass


class SentCounter(hookd.Hook):
    def __init__(self):
        self.calls = []

    def on_data_sent(self, traffic):
        self.calls.append(f"sent:{traffic.tunnel_id}:{traffic.bytes_sent}")

    def on_data_received(self, traffic):
        self.calls.append(f"received:{traffic.tunnel_id}:{traffic.bytes_received}")


class Meter(hookd.Hook):
    def __init__(self):
        self.traffic = hookd.TrafficTotals()
        self.gaps = []

    def on_data_batch(self, batch):
        missed = self.traffic.add_batch(batch)
        if missed:
            self.gaps.append((batch.sequence, missed))


class Raising(hookd.Hook):
    def on_tunnel_open(self, request):
        raise RuntimeError("boom")

    def on_tunnel_close(self, request):
        raise RuntimeError("boom")


class NotADecision(hookd.Hook):
    def on_tunnel_open(self, request):
        return True


class RuntimeChosen(hookd.Hook):
    def __init__(self, events):
        self.events = events

    def implemented_events(self):
        return self.events

    def on_tunnel_open(self, request):
        return hookd.deny("runtime says no")


def batch(sequence, *tunnels, instance="i1"):
    b = pb.DataBatch(sequence=sequence)
    b.context.server.instance_id = instance
    for client_id, tunnel_id, sent, received in tunnels:
        b.tunnels.add(client_id=client_id, tunnel_id=tunnel_id, tunnel_name="web",
                      bytes_sent=sent, bytes_received=received, sent_events=1,
                      received_events=1)
    return b


class SdkTestCase(unittest.TestCase):
    def serve(self, *hooks, strategy="stop_on_error", **options):
        options.setdefault("handle_signals", False)
        options.setdefault("shutdown_grace", 0.2)
        server = hookd.HookServer(options.pop("address", "127.0.0.1:0"), strategy=strategy,
                                  **options)
        for hook in hooks:
            server.add_hook(hook)
        server.start()
        self.addCleanup(server.shutdown)
        return server

    def stub(self, server, credentials=None, **channel_options):
        if credentials is None:
            channel = grpc.insecure_channel(server.address)
        else:
            channel = grpc.secure_channel(server.address, credentials,
                                          options=list(channel_options.items()))
        self.addCleanup(channel.close)
        return pb_grpc.HookServiceStub(channel)

    def open_tunnel(self, stub, name="web"):
        return stub.OnTunnelOpen(pb.TunnelOpenRequest(client_id="c1", tunnel_id="t1",
                                                      tunnel_name=name), timeout=RPC_TIMEOUT)

    def assertCode(self, code, call, *args):
        with self.assertRaises(grpc.RpcError) as caught:
            call(*args, timeout=RPC_TIMEOUT)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        return caught.exception


class DescribeTest(SdkTestCase):
    def test_declares_exactly_the_overridden_methods(self):
        cases = [
            (TunnelVeto(), ["tunnel_open"]),
            (AgentVeto(), ["client_connect", "client_disconnect"]),
            (SentCounter(), ["data"]),
            (Meter(), ["data"]),
            (Recorder(), ["server_start", "client_connect", "tunnel_open", "tunnel_close",
                          "visitor_connect"]),
            (hookd.Hook(), []),
        ]
        for hook, want in cases:
            with self.subTest(hook=type(hook).__name__):
                self.assertEqual(hookd.overridden_events(hook), want)
                server = self.serve(hook, name="test-hook/1")
                answer = self.stub(server).Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT)
                self.assertEqual(list(answer.events), want)
                self.assertEqual(answer.sdk, f"reitunnel-hookd-python/{hookd.__version__}")
                self.assertEqual(answer.name, "test-hook/1")
                self.assertEqual(server.implemented_events, want)

    def test_subclass_of_a_subclass_inherits_the_overrides(self):
        class Both(TunnelVeto):
            def on_error(self, event):
                pass

        self.assertEqual(hookd.overridden_events(Both()), ["tunnel_open", "error"])

    def test_several_hooks_declare_the_union_in_contract_order(self):
        server = self.serve(Meter(), TunnelVeto(), AgentVeto())
        answer = self.stub(server).Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(list(answer.events),
                         ["client_connect", "client_disconnect", "tunnel_open", "data"])

    def test_implemented_events_overrides_the_class_view(self):
        server = self.serve(RuntimeChosen(["visitor_connect", "error"]))
        stub = self.stub(server)
        answer = stub.Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(list(answer.events), ["error", "visitor_connect"])
        # Overridden but not declared: not this hook's event.
        with self.assertLogs("reitunnel_hookd", "WARNING"):
            self.assertCode(grpc.StatusCode.UNIMPLEMENTED, stub.OnTunnelOpen,
                            pb.TunnelOpenRequest())
        # Declared but not overridden: the base class cannot decide, never allows.
        error = self.assertCode(grpc.StatusCode.UNAVAILABLE, stub.OnVisitorConnect,
                                pb.VisitorConnectRequest())
        self.assertEqual(error.details(), "on_visitor_connect is not implemented by this hook")

    def test_unknown_event_name_is_refused_at_start(self):
        server = hookd.HookServer("127.0.0.1:0", handle_signals=False)
        server.add_hook(RuntimeChosen(["tunnel-open"]))
        with self.assertRaisesRegex(ValueError, "unknown event 'tunnel-open'"):
            server.start()
        server.shutdown()


class DecisionTest(SdkTestCase):
    def test_allow_deny_and_cannot_decide(self):
        for answer, code, decision, text in (
                (hookd.allow(), None, pb.ALLOW, ""),
                (hookd.deny("not today"), None, pb.DENY, "not today"),
                (hookd.cannot_decide("policy db down"), grpc.StatusCode.UNAVAILABLE, None,
                 "policy db down")):
            with self.subTest(answer=answer):
                stub = self.stub(self.serve(Recorder(answer)))
                if code is None:
                    response = self.open_tunnel(stub)
                    self.assertEqual(response.decision, decision)
                    self.assertEqual(response.reason, text)
                else:
                    error = self.assertCode(code, stub.OnTunnelOpen, pb.TunnelOpenRequest())
                    self.assertEqual(error.details(), text)

    def test_events_no_hook_implements_answer_unimplemented(self):
        stub = self.stub(self.serve(TunnelVeto()))
        with self.assertLogs("reitunnel_hookd", "WARNING") as logs:
            self.assertCode(grpc.StatusCode.UNIMPLEMENTED, stub.OnClientConnect,
                            pb.ClientConnectRequest())
        self.assertIn("OnClientConnect, which no hook of this service implements",
                      logs.output[0])
        with self.assertLogs("reitunnel_hookd", "WARNING"):
            self.assertCode(grpc.StatusCode.UNIMPLEMENTED, stub.OnTunnelClose,
                            pb.TunnelCloseRequest())
            self.assertCode(grpc.StatusCode.UNIMPLEMENTED, stub.StreamDataEvents,
                            iter([batch(1)]))
        self.assertEqual(self.open_tunnel(stub, "admin-x").decision, pb.DENY)

    def test_exception_in_hook_code_cannot_decide_and_notifications_go_on(self):
        after = Recorder()
        stub = self.stub(self.serve(Raising(), after))
        with self.assertLogs("reitunnel_hookd", "ERROR"):
            error = self.assertCode(grpc.StatusCode.UNAVAILABLE, stub.OnTunnelOpen,
                                    pb.TunnelOpenRequest())
        self.assertEqual(error.details(), "OnTunnelOpen: hook raised RuntimeError: boom")
        self.assertEqual(after.asked, 0, "stop_on_error: the undecided hook decides")
        with self.assertLogs("reitunnel_hookd", "ERROR"):
            stub.OnTunnelClose(pb.TunnelCloseRequest(tunnel_id="t9"), timeout=RPC_TIMEOUT)
        self.assertEqual(after.closed, ["t9"])

    def test_a_non_decision_is_no_decision(self):
        stub = self.stub(self.serve(NotADecision()))
        with self.assertLogs("reitunnel_hookd", "ERROR"):
            self.assertCode(grpc.StatusCode.UNAVAILABLE, stub.OnTunnelOpen,
                            pb.TunnelOpenRequest())


class StrategyTest(SdkTestCase):
    def test_stop_on_error_stops_at_the_first_that_does_not_allow(self):
        first, denier, last = Recorder(), Recorder(hookd.deny("second says no")), \
            Recorder(hookd.deny("never asked"))
        stub = self.stub(self.serve(first, denier, last, strategy="stop_on_error"))
        response = self.open_tunnel(stub)
        self.assertEqual((response.decision, response.reason), (pb.DENY, "second says no"))
        self.assertEqual((first.asked, denier.asked, last.asked), (1, 1, 0))

        undecided, never = Recorder(hookd.cannot_decide("db down")), Recorder(hookd.deny("no"))
        stub = self.stub(self.serve(undecided, never))
        self.assertCode(grpc.StatusCode.UNAVAILABLE, stub.OnTunnelOpen, pb.TunnelOpenRequest())
        self.assertEqual(never.asked, 0)

    def test_collect_and_continue_asks_everyone(self):
        a, b, c = Recorder(hookd.deny("a says no")), Recorder(), Recorder(hookd.deny("c says no"))
        stub = self.stub(self.serve(a, b, c, strategy=hookd.Strategy.COLLECT_AND_CONTINUE))
        response = stub.OnClientConnect(pb.ClientConnectRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual((response.decision, response.reason), (pb.DENY, "a says no; c says no"))
        self.assertEqual((a.asked, b.asked, c.asked), (1, 1, 1))

        # A deny wins over undecided hooks; without one, the undecided join.
        stub = self.stub(self.serve(Recorder(hookd.cannot_decide("db down")),
                                    Recorder(hookd.deny("no")),
                                    strategy="collect_and_continue"))
        self.assertEqual(self.open_tunnel(stub).reason, "no")
        stub = self.stub(self.serve(Recorder(hookd.cannot_decide("db down")), Recorder(),
                                    Recorder(hookd.cannot_decide("cache down")),
                                    strategy="collect_and_continue"))
        error = self.assertCode(grpc.StatusCode.UNAVAILABLE, stub.OnTunnelOpen,
                                pb.TunnelOpenRequest())
        self.assertEqual(error.details(), "db down; cache down")

    def test_hooks_without_the_event_have_no_say(self):
        for strategy in ("stop_on_error", "collect_and_continue"):
            with self.subTest(strategy=strategy):
                stub = self.stub(self.serve(TunnelVeto(), AgentVeto(), strategy=strategy))
                self.assertEqual(
                    stub.OnClientConnect(pb.ClientConnectRequest(), timeout=RPC_TIMEOUT).reason,
                    "agent hook says no")
                self.assertEqual(self.open_tunnel(stub, "web").decision, pb.ALLOW)
                self.assertEqual(self.open_tunnel(stub, "admin").reason,
                                 "admin tunnels are reserved")

    def test_unknown_strategy_is_refused(self):
        with self.assertRaisesRegex(ValueError, "unknown strategy 'first_wins'"):
            hookd.HookServer("127.0.0.1:0", strategy="first_wins")


class DataTest(SdkTestCase):
    def test_default_on_data_batch_feeds_the_per_tunnel_conveniences(self):
        hook = SentCounter()
        stub = self.stub(self.serve(hook))
        stub.StreamDataEvents(iter([batch(1, ("c1", "only-sent", 10, 0), ("c1", "idle", 0, 0),
                                          ("c1", "both", 7, 3)),
                                    batch(2, ("c1", "only-received", 0, 5))]),
                              timeout=RPC_TIMEOUT)
        self.assertEqual(hook.calls, ["sent:only-sent:10", "sent:both:7", "received:both:3",
                                      "received:only-received:5"])

    def test_traffic_totals_over_a_stream(self):
        hook = Meter()
        stub = self.stub(self.serve(hook))
        stub.StreamDataEvents(iter([batch(1, ("c1", "t1", 100, 10)),
                                    batch(2, ("c1", "t1", 5, 1), ("c1", "t2", 0, 7)),
                                    batch(5, ("c1", "t1", 1, 1))]), timeout=RPC_TIMEOUT)
        t1 = hook.traffic.get("t1")
        self.assertEqual((t1.bytes_sent, t1.bytes_received, t1.sent_events), (106, 12, 3))
        self.assertEqual((t1.client_id, t1.tunnel_name), ("c1", "web"))
        self.assertEqual(hook.traffic.get("t2").bytes_received, 7)
        self.assertEqual(hook.gaps, [(5, 2)])
        self.assertEqual(hook.traffic.missed_batches, 2)


class TrafficTotalsTest(unittest.TestCase):
    def test_gaps_duplicates_instances_and_closed_tunnels(self):
        totals = hookd.TrafficTotals()
        self.assertEqual(totals.add_batch(batch(7, ("c", "t1", 1, 2))), 0)  # first seen: no gap
        self.assertEqual(totals.add_batch(batch(8, ("c", "t1", 1, 2))), 0)
        self.assertEqual(totals.add_batch(batch(8, ("c", "t1", 50, 50))), 0)  # delivered twice
        self.assertEqual(totals.duplicate_batches, 1)
        self.assertEqual(totals.add_batch(batch(11, ("c", "t1", 1, 0))), 2)
        # Another server instance has its own sequence.
        self.assertEqual(totals.add_batch(batch(1, ("c", "t2", 4, 4), instance="i2")), 0)
        self.assertEqual((totals.get("t1").bytes_sent, totals.get("t1").bytes_received), (3, 4))
        self.assertEqual(set(totals.snapshot()), {"t1", "t2"})
        closed = totals.close("t1")
        self.assertEqual(closed.bytes_sent, 3)
        # A batch still in flight for the closed tunnel is not counted again.
        totals.add_batch(batch(12, ("c", "t1", 9, 9)))
        self.assertIsNone(totals.get("t1"))
        self.assertEqual(totals.close("never-seen").bytes_sent, 0)
        self.assertEqual(totals.missed_batches, 2)

    def test_remembers_a_bounded_number_of_closed_tunnels(self):
        totals = hookd.TrafficTotals(remember_closed=2)
        for t in ("a", "b", "c"):
            totals.close(t)
        totals.add_batch(batch(1, ("x", "a", 1, 1), ("x", "c", 1, 1)))
        self.assertIsNotNone(totals.get("a"), "the oldest closed id is forgotten")
        self.assertIsNone(totals.get("c"))


class ServiceTest(SdkTestCase):
    def test_health_check_and_watch(self):
        server = self.serve(TunnelVeto())
        channel = grpc.insecure_channel(server.address)
        self.addCleanup(channel.close)
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "reitunnel.hook.v1.HookService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service),
                                  timeout=RPC_TIMEOUT)
            self.assertEqual(answer.status, health_pb2.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as caught:
            health.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=RPC_TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT)
        self.assertEqual(next(watch).status, health_pb2.HealthCheckResponse.SERVING)
        watch.cancel()

    def test_reflection_lists_and_describes_the_services(self):
        server = self.serve(TunnelVeto())
        channel = grpc.insecure_channel(server.address)
        self.addCleanup(channel.close)
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_symbol="reitunnel.hook.v1.HookService"),
                    reflection_pb2.ServerReflectionRequest(file_by_filename="no/such.proto")]
        answers = list(stub.ServerReflectionInfo(iter(requests), timeout=RPC_TIMEOUT))
        names = [s.name for s in answers[0].list_services_response.service]
        self.assertIn("reitunnel.hook.v1.HookService", names)
        self.assertIn("grpc.health.v1.Health", names)
        self.assertIn("grpc.reflection.v1alpha.ServerReflection", names)
        from google.protobuf import descriptor_pb2
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in answers[1].file_descriptor_response.file_descriptor_proto]
        self.assertEqual(files[0].name, "reitunnel/hook/v1/hook.proto")
        self.assertIn("Describe", [m.name for m in files[0].service[0].method])
        self.assertIn("google/protobuf/timestamp.proto", [f.name for f in files])
        self.assertEqual(answers[2].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])

    def test_unix_socket(self):
        path = os.path.join(tempfile.mkdtemp(prefix="hookd-py-"), "hook.sock")
        self.addCleanup(shutil.rmtree, os.path.dirname(path))
        server = self.serve(TunnelVeto(), address=f"unix://{path}")
        self.assertEqual((server.port, server.address), (0, f"unix://{path}"))
        self.assertEqual(self.open_tunnel(self.stub(server), "admin").decision, pb.DENY)

    def test_start_errors(self):
        for kwargs, message in (
                ({"address": "localhost"}, "want host:port"),
                ({"address": "127.0.0.1:70000"}, "want host:port"),
                ({"tls_key_file": "/nonexistent/key.pem"}, "without a TLS certificate"),
                ({"tls_cert_file": "/nonexistent/cert.pem", "tls_key_file": "/nonexistent/k"},
                 "cannot read TLS key /nonexistent/k")):
            with self.subTest(kwargs=kwargs):
                server = hookd.HookServer(kwargs.pop("address", "127.0.0.1:0"),
                                          handle_signals=False, **kwargs)
                server.add_hook(TunnelVeto())
                with self.assertRaisesRegex(hookd.HookServerError, message):
                    server.start()
        with self.assertRaisesRegex(hookd.HookServerError, "no hooks"):
            hookd.HookServer("127.0.0.1:0", handle_signals=False).start()
        first = self.serve(TunnelVeto())
        second = hookd.HookServer(first.address, handle_signals=False)
        second.add_hook(TunnelVeto())
        with self.assertRaisesRegex(hookd.HookServerError, "cannot listen"):
            second.start()

    def test_shutdown_from_another_thread_ends_wait_and_the_data_stream(self):
        server = self.serve(Meter())
        stub = self.stub(server)
        stop = threading.Event()

        def batches():
            yield batch(1, ("c1", "t1", 1, 1))
            stop.wait(30)

        future = stub.StreamDataEvents.future(batches(), timeout=30)
        start = time.monotonic()
        threading.Thread(target=server.shutdown).start()
        server.wait()
        stop.set()
        self.assertLess(time.monotonic() - start, 5)
        with self.assertRaises(grpc.RpcError):
            future.result()


class TlsTest(SdkTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hookd-py-tls-")
        script = """set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca 2>/dev/null
for who in server client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout $who.key -out $who.csr -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > $who.ext
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out $who.pem -days 1 -extfile $who.ext 2>/dev/null
done
"""
        subprocess.run(["bash", "-c", script], cwd=cls.dir, check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def file(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.file(name), "rb") as f:
            return f.read()

    def test_tls_and_mtls(self):
        tls = self.serve(TunnelVeto(), tls_cert_file=self.file("server.pem"),
                         tls_key_file=self.file("server.key"))
        creds = grpc.ssl_channel_credentials(root_certificates=self.read("ca.pem"))
        stub = self.stub(tls, creds, **{"grpc.ssl_target_name_override": "localhost"})
        self.assertEqual(self.open_tunnel(stub, "admin").decision, pb.DENY)
        with self.assertRaises(grpc.RpcError):
            self.stub(tls).OnTunnelOpen(pb.TunnelOpenRequest(), timeout=2)

        mtls = self.serve(TunnelVeto(), tls_cert_file=self.file("server.pem"),
                          tls_key_file=self.file("server.key"),
                          tls_client_ca_file=self.file("ca.pem"))
        anonymous = self.stub(mtls, creds, **{"grpc.ssl_target_name_override": "localhost"})
        with self.assertRaises(grpc.RpcError):
            anonymous.OnTunnelOpen(pb.TunnelOpenRequest(), timeout=5)
        with_cert = grpc.ssl_channel_credentials(root_certificates=self.read("ca.pem"),
                                                 private_key=self.read("client.key"),
                                                 certificate_chain=self.read("client.pem"))
        stub = self.stub(mtls, with_cert, **{"grpc.ssl_target_name_override": "localhost"})
        self.assertEqual(self.open_tunnel(stub, "admin").reason, "admin tunnels are reserved")


HOOK_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import reitunnel_hookd as hookd

class Veto(hookd.Hook):
    def on_tunnel_open(self, request):
        return hookd.deny("no") if request.tunnel_name == "admin" else hookd.allow()

sys.exit(hookd.main(Veto(), argv=sys.argv[2:], name="sigterm-test"))
"""


class MainTest(unittest.TestCase):
    def run_hook(self, *args):
        proc = subprocess.Popen([sys.executable, "-c", HOOK_SCRIPT, sdk_env.STAGED, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def test_sigterm_and_sigint_stop_gracefully_with_exit_0(self):
        for signum, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            with self.subTest(signal=name):
                proc = self.run_hook("--listen=127.0.0.1:0")
                listening = json.loads(proc.stdout.readline())
                self.assertEqual(listening["event"], "listening")
                self.assertEqual(listening["events"], ["tunnel_open"])
                channel = grpc.insecure_channel(listening["address"])
                stub = pb_grpc.HookServiceStub(channel)
                answer = stub.OnTunnelOpen(pb.TunnelOpenRequest(tunnel_name="admin"),
                                           timeout=RPC_TIMEOUT)
                self.assertEqual(answer.decision, pb.DENY)
                channel.close()
                proc.send_signal(signum)
                out, err = proc.communicate(timeout=30)
                self.assertEqual(proc.returncode, 0, err)
                self.assertEqual(json.loads(out.splitlines()[-1]),
                                 {"event": "stopped", "signal": name})

    def test_help_exits_0_and_bad_flags_exit_2(self):
        proc = self.run_hook("--help")
        out, _ = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)
        self.assertIn("--listen ADDR", out)
        self.assertIn("--tls-client-ca", out)
        proc = self.run_hook("--strategy=first_wins")
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("invalid choice", err)

    def test_cannot_listen_exits_1_with_the_reason(self):
        proc = self.run_hook("--listen=nonsense")
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("want host:port", err)


if __name__ == "__main__":
    unittest.main()
