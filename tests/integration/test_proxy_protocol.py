"""Tunnels with proxy_protocol=v1|v2: the local service (Debian's nginx,
listening with `proxy_protocol`) logs the visitor's real address and the
public port, not the agent's loopback connection."""

import socket

import agent_link
import harness as h

VISITOR_HOST = "127.0.0.9"  # a loopback "host" other than the agent's


class ProxyProtocolTest(h.IntegrationTest):
    def start_nginx_expecting_proxy_protocol(self):
        def http_body(port, d):
            return f"""  log_format pp '$proxy_protocol_addr:$proxy_protocol_port '
                '$proxy_protocol_server_addr:$proxy_protocol_server_port $request';
  server {{
    listen 127.0.0.1:{port} proxy_protocol;
    access_log {d}/access.log pp;
    location / {{ return 200 "hello from nginx\\n"; }}
  }}
"""
        _, port, d = agent_link.spawn_nginx(h, self, http_body)
        return port, f"{d}/access.log"

    def visit(self, port, path):
        """One HTTP request from VISITOR_HOST; returns (response, visitor port)."""
        with socket.create_connection((h.LOOPBACK, port), timeout=h.DEFAULT_TIMEOUT,
                                      source_address=(VISITOR_HOST, 0)) as s:
            visitor_port = s.getsockname()[1]
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n".encode())
            return h.recv_until_eof(s)[0], visitor_port

    def access_log_lines(self, path):
        try:
            with open(path) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def test_nginx_sees_the_visitor_address_with_v1_and_v2(self):
        nginx_port, access_log = self.start_nginx_expecting_proxy_protocol()
        server = self.start_server()
        agent = self.start_agent(server, [
            f"v1=0:{h.LOOPBACK}:{nginx_port},proxy_protocol=v1",
            f"v2=0:{h.LOOPBACK}:{nginx_port},proxy_protocol=v2",
            f"none=0:{h.LOOPBACK}:{nginx_port}",
        ])
        ports = {name: agent.tunnel_port(name) for name in ("v1", "v2", "none")}
        for name in ("v1", "v2"):
            with self.subTest(version=name):
                response, visitor_port = self.visit(ports[name], f"/{name}")
                self.assertTrue(response.startswith(b"HTTP/1.1 200"), response[:200])
                self.assertIn(b"hello from nginx", response)
                want = f"{VISITOR_HOST}:{visitor_port} {h.LOOPBACK}:{ports[name]} GET /{name}"
                h.wait_until(lambda: any(line.startswith(want)
                                         for line in self.access_log_lines(access_log)),
                             what=f"nginx access log line {want!r}")
        # Without the option nginx gets no header and refuses the request:
        # proof that the lines above came from the agent's header.
        response, _ = self.visit(ports["none"], "/none")
        self.assertFalse(response.startswith(b"HTTP/1.1 200"), response[:200])
        self.assertFalse(any("/none" in line for line in self.access_log_lines(access_log)))

    def test_bad_option_is_a_usage_error(self):
        server = self.start_server()
        agent = self.start_agent(server, [f"web=0:{h.LOOPBACK}:1,proxy_protocol=v3"],
                                 wait_open=False)
        self.assert_exits(agent, 2)
        self.assertTrue(any("proxy_protocol must be v1 or v2" in line
                            for line in agent.all_output_lines()), agent.describe())
