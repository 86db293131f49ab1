"""Self-checks of the integration harness (no Reitunnel binaries needed)."""

import hashlib
import os
import socket
import sys
import threading
import time
import unittest

import harness as h

PY = sys.executable


class EchoServerTest(unittest.TestCase):
    def setUp(self):
        self.echo = h.EchoServer()
        self.addCleanup(self.echo.close)

    def test_small_echo_and_half_close(self):
        payload = b"hello, reitunnel"
        self.assertEqual(h.echo_roundtrip(self.echo.port, payload), payload)
        h.wait_until(lambda: self.echo.finished, 5, "echo server to record the connection")
        self.assertEqual(self.echo.finished[0],
                         (len(payload), hashlib.sha256(payload).hexdigest()))

    def test_large_echo(self):
        payload = os.urandom(8 * 1024 * 1024)
        self.assertTrue(h.echo_roundtrip(self.echo.port, payload) == payload)

    def test_tunnel_works_helper(self):
        self.assertTrue(h.tunnel_works(self.echo.port))
        h.wait_tunnel_works(self.echo.port, timeout=5)

    def test_reserved_port_refuses_then_serves(self):
        sock = h.reserve_refusing_port()
        port = sock.getsockname()[1]
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((h.LOOPBACK, port), timeout=5)
        echo = h.EchoServer(sock)
        self.addCleanup(echo.close)
        self.assertTrue(h.tunnel_works(port))


class RequestResponseTest(unittest.TestCase):
    def test_reads_to_eof_then_responds(self):
        response = os.urandom(1024 * 1024)
        srv = h.RequestResponseServer(response)
        self.addCleanup(srv.close)
        s = h.connect(srv.port)
        self.addCleanup(s.close)
        s.sendall(b"GET /big")
        s.shutdown(socket.SHUT_WR)
        data, how = h.recv_until_eof(s, timeout=10)
        self.assertEqual(how, "eof")
        self.assertTrue(data == response)
        self.assertEqual(srv.requests, [b"GET /big"])


class PortsTest(unittest.TestCase):
    def test_free_port_range_is_free_and_locked(self):
        r = h.free_port_range(20)
        self.addCleanup(r.release)
        self.assertEqual(r.high - r.low + 1, 20)
        for p in r.ports():
            self.assertTrue(h.can_bind(p), f"port {p} not bindable")
        eph_lo, eph_hi = h._ephemeral_range()
        self.assertTrue(r.high < eph_lo or r.low > eph_hi, f"{r} overlaps ephemeral range")
        # A second range must not be the same window while the first is held.
        r2 = h.free_port_range(20)
        self.addCleanup(r2.release)
        self.assertNotEqual(r.low, r2.low)

    def test_can_bind_detects_listener(self):
        s = socket.socket()
        s.bind((h.LOOPBACK, 0))
        s.listen(1)
        self.addCleanup(s.close)
        self.assertFalse(h.can_bind(s.getsockname()[1]))


class WaitUntilTest(unittest.TestCase):
    def test_returns_value(self):
        start = time.monotonic()
        self.assertEqual(h.wait_until(lambda: time.monotonic() - start > 0.05 and 42, 5), 42)

    def test_timeout_message(self):
        with self.assertRaises(h.WaitTimeout) as cm:
            h.wait_until(lambda: False, 0.1, "the moon")
        self.assertIn("the moon", str(cm.exception))


class WireBitsTest(unittest.TestCase):
    def test_pb_roundtrip(self):
        buf = h.pb_field(1, h.pb_field(1, b"\x01" * 32) + h.pb_field(2, "v1")) + h.pb_field(3, 300)
        fields = h.pb_decode(buf)
        self.assertEqual(fields[0][0], 1)
        self.assertEqual(h.pb_decode(fields[0][2]), [(1, 2, b"\x01" * 32), (2, 2, b"v1")])
        self.assertEqual(fields[1], (3, 0, 300))

    def test_frame_header(self):
        self.assertEqual(h.frame_header(5), b"RT\x01\x00\x00\x00\x00\x05")

    def test_yaml(self):
        y = h.to_yaml({"a": {"b": 1, "c": "x"}, "t": [{"name": "w", "remote_port": 0}]})
        self.assertEqual(y, 'a:\n  b: 1\n  c: "x"\nt:\n  - name: "w"\n    remote_port: 0')


class ProcTest(unittest.TestCase):
    def test_events_and_exit(self):
        script = ("import json,sys\n"
                  "print(json.dumps({'event':'ready','addr':'127.0.0.1:1'}), file=sys.stderr)\n"
                  "print('plain text line', file=sys.stderr)\n"
                  "sys.exit(3)\n")
        p = h.Proc("fake", [PY, "-c", script])
        self.addCleanup(p.kill)
        ev = p.wait_for_event("ready", timeout=10)
        self.assertEqual(ev["addr"], "127.0.0.1:1")
        self.assertEqual(p.wait_exit(10), 3)
        self.assertIn("plain text line", p.lines)

    def test_wait_for_event_fails_fast_on_exit(self):
        p = h.Proc("fake", [PY, "-c", "import sys; sys.exit(1)"])
        self.addCleanup(p.kill)
        start = time.monotonic()
        with self.assertRaises(AssertionError) as cm:
            p.wait_for_event("never", timeout=20)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn("exited", str(cm.exception))

    def test_kill_stopped_process(self):
        p = h.Proc("sleeper", [PY, "-c", "import time; time.sleep(60)"])
        p.signal(h.signal.SIGSTOP)
        p.kill()
        self.assertFalse(p.alive())


class LeakCheckTest(unittest.TestCase):
    def test_secret_in_output_fails_the_test(self):
        class Inner(h.IntegrationTest):
            def runTest(self):
                self.spawn(h.Proc, "leaky",
                           [PY, "-c", f"import sys; print('token={self.token}', file=sys.stderr)"]
                           ).wait_exit(10)

        result = unittest.TestResult()
        Inner().run(result)
        problems = result.errors + result.failures
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("secret token appeared", problems[0][1])

    def test_failure_dumps_process_logs(self):
        import io
        import contextlib

        class Inner(h.IntegrationTest):
            def runTest(self):
                self.spawn(h.Proc, "chatty",
                           [PY, "-c", "import sys; print('marker-line-xyz', file=sys.stderr)"]
                           ).wait_exit(10)
                with self.subTest("sub"):
                    self.fail("deliberate")

        buf = io.StringIO()
        result = unittest.TestResult()
        with contextlib.redirect_stderr(buf):
            Inner().run(result)
        self.assertFalse(result.wasSuccessful())
        self.assertIn("marker-line-xyz", buf.getvalue())

    def test_sanitizer_report_fails_the_test(self):
        class Inner(h.IntegrationTest):
            def runTest(self):
                self.spawn(h.Proc, "asan", [PY, "-c", "import sys; print('==1==ERROR: "
                                            "AddressSanitizer: heap-use-after-free', "
                                            "file=sys.stderr)"]).wait_exit(10)

        result = unittest.TestResult()
        Inner().run(result)
        problems = result.errors + result.failures
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("sanitizer report", problems[0][1])

    def test_bad_exit_code_on_sigterm_at_cleanup_fails_the_test(self):
        script = ("import signal, sys, time\n"
                  "signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))\n"
                  "print('{\"event\": \"up\"}', file=sys.stderr, flush=True)\n"
                  "time.sleep(60)\n")

        class Inner(h.IntegrationTest):
            def runTest(self):
                self.spawn(h.ServerProc, "fake-server", [PY, "-c", script]).wait_for_event(
                    "up", timeout=10)

        result = unittest.TestResult()
        Inner().run(result)
        problems = result.errors + result.failures
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("rc=3 on SIGTERM", problems[0][1])

    def test_clean_output_passes(self):
        class Inner(h.IntegrationTest):
            def runTest(self):
                self.spawn(h.Proc, "clean", [PY, "-c", "print('nothing secret')"]).wait_exit(10)

        result = unittest.TestResult()
        Inner().run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)


if __name__ == "__main__":
    unittest.main()
