"""Data relay through a real tunnel: bulk integrity, concurrency, half-close,
local service down."""

import hashlib
import os
import socket
import threading
import time

import harness as h


class RelayTest(h.IntegrationTest):
    def test_64mib_bulk_integrity_both_ways(self):
        server, agent, echo, port = self.setup_tunnel()
        total = 64 * 1024 * 1024
        chunk = 256 * 1024
        sent_hash = hashlib.sha256()
        recv_hash = hashlib.sha256()
        received = [0]
        errors = []

        s = h.connect(port, timeout=120)
        self.addCleanup(s.close)

        # Reads concurrently with the writer and hashes as it goes.
        def stream_reader():
            try:
                deadline = time.monotonic() + 180
                s.settimeout(5)
                while True:
                    if time.monotonic() > deadline:
                        raise h.WaitTimeout(f"bulk read not finished after 180s "
                                            f"({received[0]} bytes)")
                    try:
                        data = s.recv(chunk)
                    except socket.timeout:
                        continue
                    if not data:
                        return
                    recv_hash.update(data)
                    received[0] += len(data)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=stream_reader, daemon=True)
        t.start()
        for _ in range(total // chunk):
            block = os.urandom(chunk)
            sent_hash.update(block)
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)
        t.join(200)
        self.assertFalse(t.is_alive(), "reader thread did not finish")
        self.assertEqual(errors, [])
        self.assertEqual(received[0], total, "visitor got back a different byte count")
        self.assertEqual(recv_hash.hexdigest(), sent_hash.hexdigest(),
                         "visitor got back different bytes")
        # The local service saw exactly what the visitor sent.
        h.wait_until(lambda: echo.finished, 20, "echo service to see EOF from the tunnel")
        self.assertEqual(echo.finished[0], (total, sent_hash.hexdigest()),
                         "local service received different bytes than the visitor sent")

    def test_200_concurrent_visitors(self):
        server, agent, echo, port = self.setup_tunnel()
        n = 200
        size = 64 * 1024
        barrier = threading.Barrier(n + 1)
        results = [None] * n

        def visitor(i):
            payload = os.urandom(size)
            try:
                s = h.connect(port, timeout=60)
            except OSError as e:
                results[i] = f"connect failed: {e!r}"
                barrier.abort()
                return
            try:
                try:
                    barrier.wait(60)  # everyone connected before anyone sends
                except threading.BrokenBarrierError:
                    pass
                err = []

                def writer():
                    try:
                        s.sendall(payload)
                        s.shutdown(socket.SHUT_WR)
                    except OSError as e:
                        err.append(e)

                w = threading.Thread(target=writer, daemon=True)
                w.start()
                data, how = h.recv_until_eof(s, timeout=120)
                w.join(30)
                if err:
                    results[i] = f"send failed: {err[0]!r}"
                elif data != payload:
                    results[i] = f"echo mismatch: sent {size} bytes, got {len(data)} ({how})"
                else:
                    results[i] = "ok"
            except Exception as e:  # noqa: BLE001
                results[i] = f"error: {e!r}"
            finally:
                s.close()

        threads = [threading.Thread(target=visitor, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        try:
            barrier.wait(90)
        except threading.BrokenBarrierError:
            pass
        for t in threads:
            t.join(150)
        failures = [(i, r) for i, r in enumerate(results) if r != "ok"]
        self.assertEqual(failures[:10], [], f"{len(failures)} of {n} visitors failed")
        h.wait_until(lambda: len(echo.finished) == n, 30,
                     f"local service to finish {n} connections")
        self.assertEqual(echo.accepted, n, "local service saw a different number of connections")
        # The tunnel is still usable afterwards.
        h.assert_tunnel_works(self, port)

    def test_half_close_request_then_big_response(self):
        response = os.urandom(1024 * 1024)
        svc = self.start_reqresp(response)
        server = self.start_server()
        agent = self.start_agent(server, [("api", 0, svc.port)])
        port = agent.remote_ports["api"]
        request = os.urandom(100 * 1024)

        s = h.connect(port)
        self.addCleanup(s.close)
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        data, how = h.recv_until_eof(s, timeout=60)
        self.assertEqual(how, "eof", "visitor connection was reset instead of closed")
        self.assertEqual(len(data), len(response), "visitor got a truncated response")
        self.assertTrue(data == response, "visitor got a corrupted response")
        self.assertEqual(len(svc.requests), 1)
        self.assertTrue(svc.requests[0] == request,
                        "local service did not see the full request before EOF")

    def test_local_service_down_then_up(self):
        reserved = h.reserve_refusing_port()  # bound, not listening: refuses
        self.addCleanup(reserved.close)
        local_port = reserved.getsockname()[1]
        server = self.start_server()
        agent = self.start_agent(server, [("down", 0, local_port)])
        port = agent.remote_ports["down"]

        # A visitor gets its connection closed (not hung) while the service is down.
        for _ in range(3):
            try:
                s = h.connect(port)
            except ConnectionResetError:
                # Reset before connect() returned (the refusal raced the
                # client's wake-up on a loaded machine): closed, not hung.
                continue
            try:
                s.sendall(b"anyone there?")
            except OSError:
                pass
            start = time.monotonic()
            data, how = h.recv_until_eof(s, timeout=20)
            s.close()
            self.assertEqual(data, b"", "visitor received data from a service that is down")
            self.assertLess(time.monotonic() - start, 20)
        self.assert_alive(server)
        self.assert_alive(agent)

        # Bring the service up on the same port: the same tunnel now works.
        self.start_echo(reserved)
        h.wait_tunnel_works(port, timeout=20)
        h.assert_tunnel_works(self, port, size=1024 * 1024)

    def test_multiple_tunnels_one_agent(self):
        echo1 = self.start_echo()
        response = os.urandom(4096)
        svc2 = self.start_reqresp(response)
        server = self.start_server()
        agent = self.start_agent(server, [("one", 0, echo1.port), ("two", 0, svc2.port)])
        p1, p2 = agent.remote_ports["one"], agent.remote_ports["two"]
        self.assertNotEqual(p1, p2)
        h.assert_tunnel_works(self, p1)
        got = h.echo_roundtrip(p2, b"req")
        self.assertEqual(got, response, "second tunnel routed to the wrong service")
        self.assertEqual(svc2.requests, [b"req"])
        self.assertEqual(echo1.accepted, 1, "first service got traffic meant for the second")

    def test_tunnel_closed_reports_exact_byte_totals(self):
        server, agent, echo, port = self.setup_tunnel()
        sizes = [12345, 1024 * 1024 + 7, 1]
        for n in sizes:
            payload = os.urandom(n)
            self.assertTrue(h.echo_roundtrip(port, payload) == payload)
        total = sum(sizes)
        agent.terminate()
        self.assert_exits(agent, 0)
        ev = server.wait_for_event("tunnel_closed")
        self.assertEqual(int(ev["bytes_in"]), total, f"tunnel_closed bytes_in: {ev}")
        self.assertEqual(int(ev["bytes_out"]), total, f"tunnel_closed bytes_out: {ev}")

    def test_backpressure_stalled_service_bounded_memory(self):
        # A local service that accepts but never reads: the visitor must be
        # throttled by TCP backpressure, not buffered in server/agent memory.
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        listener.bind((h.LOOPBACK, 0))
        listener.listen(8)
        self.addCleanup(listener.close)
        server = self.start_server()
        agent = self.start_agent(server, [("stall", 0, listener.getsockname()[1])])
        port = agent.remote_ports["stall"]
        rss0 = {p.name: h.proc_rss_kib(p.pid) for p in (server, agent)}

        s = h.connect(port)
        self.addCleanup(s.close)
        s.setblocking(False)
        limit = 512 * 1024 * 1024
        pushed = 0
        block = os.urandom(1024 * 1024)
        last_progress = time.monotonic()
        # Push until nothing moves for 2 s (observation window) or the limit.
        while pushed < limit and time.monotonic() - last_progress < 2.0:
            try:
                n = s.send(block)
                pushed += n
                last_progress = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        growth = {p.name: h.proc_rss_kib(p.pid) - rss0[p.name] for p in (server, agent)}
        self.assertLess(pushed, limit,
                        f"visitor pushed {pushed >> 20} MiB into a service that never reads: "
                        f"no backpressure (RSS growth KiB: {growth})")
        for name, kib in growth.items():
            self.assertLess(kib, 64 * 1024,
                            f"{name} RSS grew by {kib >> 10} MiB while a visitor pushed "
                            f"{pushed >> 20} MiB into a stalled service")
        self.assert_alive(server)
        self.assert_alive(agent)

    def test_hostnames_for_server_and_local_service(self):
        # localhost may resolve to ::1 first; the agent must fall back to the
        # address that works (servers listen on 127.0.0.1 here).
        echo = self.start_echo()
        server = self.start_server()
        agent = self.start_agent(None, [f"web=0:localhost:{echo.port}"],
                                 server_addr=self.agent_address(server, host="localhost"))
        port = agent.tunnel_port("web")
        h.assert_tunnel_works(self, port)


if __name__ == "__main__":
    import unittest
    unittest.main()
