"""Routed tunnels on the server's shared listeners: http: tunnels by the
first request's Host on --http-listen (two hostnames on one port, wildcards,
404, basic auth, X-Forwarded-For), tls: tunnels by SNI on --sni-listen (TLS
passes through to a local TLS server, whose certificate the visitor
verifies), hostname ownership, hooks and reitunnelctl seeing kind and
hostname."""

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import threading

import harness as h
from test_hooks import RECORDING_HOOK, stubs_dir

PY = "/usr/bin/python3"

VISITOR_HOST = "127.0.0.9"  # a loopback "host" other than the agent's


def read_fields(f):
    """Header fields up to the empty line, lower-cased names (first wins)."""
    fields = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            return fields
        k, v = line.decode().split(":", 1)
        fields.setdefault(k.strip().lower(), v.strip())


class HttpBackend(h._ThreadedServer):
    """A keep-alive HTTP/1.1 origin: answers each request with its name and
    the routing-relevant fields it received, one line each."""

    def __init__(self, name, sock=None):
        self.label = name
        super().__init__(sock=sock, name=f"http-{name}")

    def handle(self, conn, peer):
        f = conn.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                return
            request_line = line.decode().strip()
            headers = read_fields(f)
            length = int(headers.get("content-length", "0"))
            body = f.read(length) if length else b""
            text = "\n".join([
                f"backend={self.label}",
                f"request={request_line}",
                f"host={headers.get('host', '')}",
                f"xff={headers.get('x-forwarded-for', '')}",
                f"xfp={headers.get('x-forwarded-proto', '')}",
                f"auth={headers.get('authorization', '')}",
                f"body={hashlib.sha256(body).hexdigest()}",
            ]).encode() + b"\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))


def read_response(f):
    """(status, headers, body) of one response from a binary file object."""
    status_line = f.readline().decode()
    if not status_line:
        raise AssertionError("connection closed before a response")
    status = int(status_line.split()[1])
    headers = read_fields(f)
    body = f.read(int(headers.get("content-length", "0")))
    return status, headers, body


def fields(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


class VhostTest(h.IntegrationTest):
    def start_vhost_server(self, sni=False, **kw):
        args = [f"--http-listen={h.LOOPBACK}:0"]
        if sni:
            args.append(f"--sni-listen={h.LOOPBACK}:0")
        server = self.start_server(extra_args=args + list(kw.pop("extra_args", [])), **kw)
        server.http_port = h.parse_addr(server.wait_for_event("http_listener_ready")["addr"])[1]
        if sni:
            server.sni_port = h.parse_addr(server.wait_for_event("sni_listener_ready")["addr"])[1]
        return server

    def start_routed_agent(self, server, specs, **kw):
        """An agent with these --tunnel specs, once every tunnel is open."""
        agent = self.start_agent(server, specs, **kw)
        for spec in specs:
            agent.tunnel_port(spec.split("=", 1)[0])
        return agent

    def start_backend(self, name, sock=None):
        b = HttpBackend(name, sock)
        self.addCleanup(b.close)
        return b

    def request(self, port, host, path="/", extra=b"", body=b"", conn=None):
        """One request; returns (status, headers, body). `conn`: a (socket,
        file) pair to reuse (keep-alive)."""
        own = conn is None
        if own:
            s = socket.create_connection((h.LOOPBACK, port), timeout=h.DEFAULT_TIMEOUT,
                                         source_address=(VISITOR_HOST, 0))
            conn = (s, s.makefile("rb"))
        s, f = conn
        try:
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode() if body else
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode())
            if body:
                head += b"Content-Length: %d\r\n" % len(body)
            s.sendall(head + extra + b"\r\n" + body)
            return read_response(f)
        finally:
            if own:
                f.close()
                s.close()

    def test_two_hostnames_share_one_port(self):
        server = self.start_vhost_server()
        a, b = self.start_backend("a"), self.start_backend("b")
        agent = self.start_agent(server, [f"a=http:app.example.test:{h.LOOPBACK}:{a.port}",
                                          f"b=http:*.example.test:{h.LOOPBACK}:{b.port}"])
        self.assertEqual(agent.tunnel_port("a"), server.http_port)
        self.assertEqual(agent.tunnel_port("b"), server.http_port)
        # Exact beats wildcard; the Host port and case do not matter.
        for host, want in (("app.example.test", "a"), ("APP.Example.Test:80", "a"),
                           ("x.example.test", "b"), ("deep.x.example.test", "b")):
            with self.subTest(host=host):
                status, _, body = self.request(server.http_port, host, "/p?q=1")
                self.assertEqual(status, 200, body)
                got = fields(body)
                self.assertEqual(got["backend"], want, got)
                self.assertEqual(got["request"], "GET /p?q=1 HTTP/1.1")
                self.assertEqual(got["host"], host)
                self.assertEqual(got["xff"], VISITOR_HOST)
                self.assertEqual(got["xfp"], "http")
        # A request body arrives intact behind the rewritten head.
        payload = os.urandom(200_000)
        status, _, body = self.request(server.http_port, "app.example.test", body=payload)
        self.assertEqual(status, 200)
        self.assertEqual(fields(body)["body"], hashlib.sha256(payload).hexdigest())
        # Nobody serves example.test itself ("*." needs a label) or other names.
        for host in ("example.test", "other.test"):
            status, headers, body = self.request(server.http_port, host)
            self.assertEqual(status, 404, body)
            self.assertEqual(headers.get("connection"), "close")
            self.assertNotIn(host.encode(), body)  # never echoes input
        # A refused request's body is read and dropped before the close, so
        # neither the body still being sent nor the 404 is lost to a reset
        # (a small send buffer keeps the client sending after the answer).
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.settimeout(h.DEFAULT_TIMEOUT)
        s.connect((h.LOOPBACK, server.http_port))
        with s, s.makefile("rb") as f:
            status, _, _ = self.request(None, "other.test", body=os.urandom(200_000), conn=(s, f))
        self.assertEqual(status, 404)

    def test_keep_alive_stays_with_the_first_requests_tunnel(self):
        server = self.start_vhost_server()
        a, b = self.start_backend("a"), self.start_backend("b")
        self.start_routed_agent(server, [f"a=http:a.example.test:{h.LOOPBACK}:{a.port}",
                                         f"b=http:b.example.test:{h.LOOPBACK}:{b.port}"])
        s = socket.create_connection((h.LOOPBACK, server.http_port), timeout=h.DEFAULT_TIMEOUT)
        f = s.makefile("rb")
        try:
            _, _, first = self.request(None, "a.example.test", conn=(s, f))
            _, _, second = self.request(None, "b.example.test", conn=(s, f))
        finally:
            f.close()
            s.close()
        # Documented: the connection belongs to the first request's tunnel.
        self.assertEqual(fields(first)["backend"], "a")
        self.assertEqual(fields(second)["backend"], "a")
        # Only the first request is rewritten (the rest is relayed as sent).
        self.assertEqual(fields(first)["xff"], h.LOOPBACK)
        self.assertEqual(fields(second)["xff"], "")

    def test_unreachable_service_answers_502_and_the_tunnel_recovers(self):
        server = self.start_vhost_server()
        # Bound but not listening: connecting to it is refused, and the port
        # stays ours for the backend started later.
        reserved = socket.socket()
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.bind((h.LOOPBACK, 0))
        self.addCleanup(reserved.close)
        port = reserved.getsockname()[1]
        agent = self.start_routed_agent(server, [f"a=http:a.example.test:{h.LOOPBACK}:{port}"])
        for _ in range(3):  # the same pooled data connections answer again
            status, headers, body = self.request(server.http_port, "a.example.test")
            self.assertEqual(status, 502, body)
            self.assertEqual(headers.get("connection"), "close")
            self.assertIn(b"unreachable", body)
            self.assertNotIn(str(port).encode(), body)  # no internal address
        agent.wait_for_event("local_connect_failed")
        self.start_backend("a", sock=reserved)
        status, _, body = self.request(server.http_port, "a.example.test")
        self.assertEqual(status, 200, body)
        self.assertEqual(fields(body)["backend"], "a")

    def test_basic_auth_and_x_forwarded_off(self):
        password = "pw-" + os.urandom(8).hex()
        self.secrets.add(password)
        server = self.start_vhost_server()
        a = self.start_backend("a")
        self.start_routed_agent(server, [
            f"a=http:a.example.test:{h.LOOPBACK}:{a.port},basic_auth=alice:{password},"
            "x_forwarded=false"])
        status, headers, _ = self.request(server.http_port, "a.example.test")
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("www-authenticate", ""))
        wrong = base64.b64encode(b"alice:nope").decode()
        status, _, _ = self.request(server.http_port, "a.example.test",
                                    extra=f"Authorization: Basic {wrong}\r\n".encode())
        self.assertEqual(status, 401)
        right = base64.b64encode(f"alice:{password}".encode()).decode()
        status, _, body = self.request(server.http_port, "a.example.test",
                                       extra=f"Authorization: Basic {right}\r\n".encode())
        self.assertEqual(status, 200, body)
        self.assertEqual(fields(body)["xff"], "")  # x_forwarded=false
        self.assertEqual(fields(body)["xfp"], "")

    def test_malformed_and_slow_heads(self):
        server = self.start_vhost_server(config={"vhost": {"head_timeout_ms": 500}})
        a = self.start_backend("a")
        self.start_routed_agent(server, [f"a=http:a.example.test:{h.LOOPBACK}:{a.port}"])
        with h.connect(server.http_port) as s:
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            data, _ = h.recv_until_eof(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:100])
        with h.connect(server.http_port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.example.test\r\n")  # never ends
            data, _ = h.recv_until_eof(s, timeout=5)
        self.assertEqual(data, b"")
        # Both were cut off without disturbing the tunnel.
        status, _, _ = self.request(server.http_port, "a.example.test")
        self.assertEqual(status, 200)

    def make_cert(self, name):
        d = self.tmp

        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-subj", "/CN=test-ca", "-days", "2", "-out", "ca.pem")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "svc.key",
                "-subj", f"/CN={name}", "-out", "svc.csr")
        self.write_file("svc.ext", f"subjectAltName=DNS:{name}\n")
        openssl("x509", "-req", "-in", "svc.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", "svc.pem", "-extfile", "svc.ext")
        return os.path.join(d, "ca.pem"), os.path.join(d, "svc.pem"), os.path.join(d, "svc.key")

    def start_tls_echo(self, cert, key):
        """A local TLS service: terminates TLS and echoes."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        lsock = socket.socket()
        lsock.bind((h.LOOPBACK, 0))
        lsock.listen(16)
        self.addCleanup(lsock.close)
        names = []

        def serve():
            while True:
                try:
                    raw, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=one, args=(raw,), daemon=True).start()

        def one(raw):
            try:
                with ctx.wrap_socket(raw, server_side=True) as c:
                    while True:
                        data = c.recv(65536)
                        if not data:
                            return
                        c.sendall(data)
            except (OSError, ssl.SSLError):
                pass
        threading.Thread(target=serve, daemon=True).start()
        return lsock.getsockname()[1], names

    def test_sni_passthrough_to_a_local_tls_server(self):
        ca, cert, key = self.make_cert("secure.example.test")
        tls_port, _ = self.start_tls_echo(cert, key)
        server = self.start_vhost_server(sni=True)
        self.start_routed_agent(server, [f"s=tls:secure.example.test:{h.LOOPBACK}:{tls_port}"])
        client = ssl.create_default_context(cafile=ca)
        payload = os.urandom(100_000)
        with socket.create_connection((h.LOOPBACK, server.sni_port),
                                      timeout=h.DEFAULT_TIMEOUT) as raw:
            # Verifies the local service's certificate for the name: the
            # handshake ended there, not on the server (which has no key).
            with client.wrap_socket(raw, server_hostname="secure.example.test") as c:
                c.sendall(payload)
                got = bytearray()
                while len(got) < len(payload):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
        self.assertEqual(bytes(got), payload)
        # An unknown name, and a client that is not TLS, are closed.
        with socket.create_connection((h.LOOPBACK, server.sni_port),
                                      timeout=h.DEFAULT_TIMEOUT) as raw:
            with self.assertRaises((ssl.SSLError, OSError)):
                with client.wrap_socket(raw, server_hostname="other.example.test"):
                    pass
        with h.connect(server.sni_port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: secure.example.test\r\n\r\n")
            data, _ = h.recv_until_eof(s)
        self.assertEqual(data, b"")

    def start_hook(self, *args):
        p = self.spawn(h.Proc, "hook", [PY, RECORDING_HOOK, f"--listen={h.LOOPBACK}:0", *args],
                       env={"REITUNNEL_HOOK_STUBS": stubs_dir(), "PYTHONDONTWRITEBYTECODE": "1"})
        p.port = p.wait_for_event("listening")["port"]
        return p

    def test_hostname_ownership_hooks_and_admin(self):
        hook = self.start_hook("--deny-hostname=^forbidden\\.")
        server = self.start_vhost_server(config={
            "hooks": [{"name": "policy", "address": f"{h.LOOPBACK}:{hook.port}",
                       "events": ["tunnel_open", "tunnel_close"],
                       "failure_policy": "fail_closed"}],
            "hook_settings": {"startup_wait_ms": 3000}})
        a, b = self.start_backend("a"), self.start_backend("b")
        first = self.start_routed_agent(
            server, [f"web=http:shared.example.test:{h.LOOPBACK}:{a.port}"], name="first")
        opened = hook.wait_for_event(
            "tunnel_open", lambda e: e["req"]["metadata"].get("hostname") == "shared.example.test")
        md = opened["req"]["metadata"]
        self.assertEqual(md.get("kind"), "http", md)
        self.assertEqual(int(md.get("remote_port")), server.http_port, md)

        # A second agent cannot take the name while the first holds it ...
        second = self.start_agent(server, [
            f"web=http:shared.example.test:{h.LOOPBACK}:{b.port}",
            f"bad=http:forbidden.example.test:{h.LOOPBACK}:{b.port}"],
            name="second", wait_open=False)
        ev = second.wait_for_event("tunnel_refused", lambda e: e.get("name") == "web")
        self.assertEqual(ev.get("code"), "HOSTNAME_IN_USE", ev)
        self.assertTrue(ev.get("retryable"), ev)
        ev = second.wait_for_event("tunnel_refused", lambda e: e.get("name") == "bad")
        self.assertEqual(ev.get("code"), "DENIED", ev)
        status, _, body = self.request(server.http_port, "shared.example.test")
        self.assertEqual(fields(body)["backend"], "a")

        r = h.run_ctl(server.admin_addr, self.token, "tunnels", "list", "--all", "-o", "json")
        self.assertEqual(r.rc, 0, str(r))
        rows = json.loads(r.out)
        rows = rows.get("tunnels", rows) if isinstance(rows, dict) else rows
        by_state = {(t["name"], t.get("state", "open"), t.get("client_id")) for t in rows}
        open_rows = [t for t in rows if t.get("state", "open") == "open"]
        self.assertEqual([(t["kind"], t["hostname"]) for t in open_rows],
                         [("http", "shared.example.test")], by_state)
        refused = [t for t in rows if t.get("state") == "refused" and t["name"] == "web"]
        self.assertTrue(refused and "HOSTNAME_IN_USE" in refused[0].get("last_error", ""), rows)
        table = h.run_ctl(server.admin_addr, self.token, "tunnels", "list")
        self.assertIn("http://shared.example.test", table.out, str(table))

        # ... and gets it (on its retry) once the first agent is gone.
        first.terminate()
        second.wait_for_event("tunnel_open", lambda e: e.get("name") == "web",
                              timeout=h.DEFAULT_TIMEOUT * 2)
        h.wait_until(lambda: fields(self.request(server.http_port,
                                                 "shared.example.test")[2])["backend"] == "b",
                     what="the second agent serving the name")
        closed = hook.wait_for_event(
            "tunnel_close", lambda e: e["req"]["metadata"].get("hostname") == "shared.example.test")
        self.assertEqual(closed["req"]["metadata"].get("kind"), "http")

    def test_server_without_the_listener_refuses_clearly(self):
        server = self.start_server()
        a = self.start_backend("a")
        agent = self.start_agent(server, [f"a=http:a.example.test:{h.LOOPBACK}:{a.port}"],
                                 wait_open=False)
        ev = agent.wait_for_event("tunnel_refused")
        self.assertEqual(ev.get("code"), "BAD_REQUEST", ev)
        self.assertIn("--http-listen", ev.get("reason", ""))
        self.assert_exits(agent, 1)

    def test_bad_specs_are_usage_errors(self):
        for spec, want in (("a=http:bad_host:127.0.0.1:80", "invalid hostname"),
                           ("a=http:a.example.test", "missing local address"),
                           ("a=tls:a.example.test:127.0.0.1:80,basic_auth=u:p",
                            "unknown tunnel option"),
                           ("a=udp:53:127.0.0.1:53,proxy_protocol=v1",
                            "proxy_protocol is for tcp")):
            with self.subTest(spec=spec):
                agent = self.start_agent(None, [spec], wait_open=False,
                                         extra_args=["--server=127.0.0.1:1"])
                self.assert_exits(agent, 2)
                self.assertTrue(any(want in line for line in agent.all_output_lines()),
                                agent.describe())
