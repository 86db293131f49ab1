"""Per-agent identities (server config agents:) and certificate identity, as
a Python hook service (recording_hook.py) sees them; revoking one agent by
`reitunnelctl agents revoke` or by SIGHUP cuts only that agent."""

import hashlib
import json
import os
import signal
import subprocess

import harness as h
from test_hooks import RECORDING_HOOK, stubs_dir

PY = "/usr/bin/python3"


class IdentityTest(h.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.web_token = "web-" + os.urandom(16).hex()
        self.db_token = "db-" + os.urandom(16).hex()
        self.secrets |= {self.web_token, self.db_token}
        self.db_token_file = self.write_file("db.token", self.db_token + "\n")

    def start_hook(self):
        p = self.spawn(h.Proc, "hook", [PY, RECORDING_HOOK, f"--listen={h.LOOPBACK}:0"],
                       env={"REITUNNEL_HOOK_STUBS": stubs_dir(), "PYTHONDONTWRITEBYTECODE": "1"})
        p.port = p.wait_for_event("listening")["port"]
        return p

    def identities(self, include_db=True):
        agents = [{"id": "web-1", "token_sha256": hashlib.sha256(self.web_token.encode()).hexdigest(),
                   "labels": {"team": "blue"}}]
        if include_db:
            agents.append({"id": "db-7", "token_file": self.db_token_file})
        return agents

    def server_config(self, hook=None, include_db=True):
        cfg = {"agents": self.identities(include_db)}
        if hook is not None:
            cfg["hooks"] = [{"name": "policy", "address": f"{h.LOOPBACK}:{hook.port}",
                             "events": ["client_connect", "tunnel_open"],
                             "failure_policy": "fail_closed"}]
            cfg["hook_settings"] = {"startup_wait_ms": 3000}
        return cfg

    def start_identified_agent(self, server, agent_id, token, echo, name=None, **kw):
        return self.start_agent(server, [("web", 0, echo.port)], token=token,
                                extra_args=[f"--agent-id={agent_id}", "--label=team=red"],
                                name=name or agent_id, **kw)

    def connect_metadata(self, hook, since=0):
        return hook.wait_for_event("client_connect", since=since)["req"]["metadata"]

    def test_hook_sees_the_verified_identity_and_its_server_set_labels(self):
        hook = self.start_hook()
        server = self.start_server(config=self.server_config(hook))
        echo = self.start_echo()
        agent = self.start_identified_agent(server, "web-1", self.web_token, echo)
        h.assert_tunnel_works(self, agent.remote_ports["web"])
        md = self.connect_metadata(hook)
        self.assertEqual(md.get("agent_id"), "web-1", md)
        self.assertEqual(md.get("auth"), "agent_token", md)
        # The server's label replaces the agent's own claim of the same key.
        self.assertEqual(md.get("label.team"), "blue", md)
        self.assertIn("team", md.get("verified_labels", "").split(","), md)
        self.assertNotIn("claimed_agent_id", md)
        opened = hook.wait_for_event("tunnel_open")["req"]["metadata"]
        self.assertEqual(opened.get("agent_id"), "web-1", opened)

        # The shared token cannot pass for a listed identity ...
        impostor = self.start_identified_agent(server, "web-1", self.token, echo,
                                               name="impostor", wait_open=False)
        self.assert_exits(impostor, 1)
        impostor.wait_for_event("auth_refused")
        # ... and with an unlisted --agent-id it is only a claim.
        mark = hook.event_mark()
        shared = self.start_identified_agent(server, "laptop", self.token, echo, name="shared")
        h.assert_tunnel_works(self, shared.remote_ports["web"])
        md = self.connect_metadata(hook, since=mark)
        self.assertEqual(md.get("claimed_agent_id"), "laptop", md)
        self.assertEqual(md.get("auth"), "shared_token", md)
        self.assertNotIn("agent_id", md)

    def test_another_agents_token_is_refused(self):
        server = self.start_server(config=self.server_config())
        echo = self.start_echo()
        # db-7's token does not prove web-1, and vice versa.
        agent = self.start_identified_agent(server, "web-1", self.db_token, echo, wait_open=False)
        self.assert_exits(agent, 1)
        agent.wait_for_event("auth_refused")
        ok = self.start_identified_agent(server, "db-7", self.db_token, echo)
        h.assert_tunnel_works(self, ok.remote_ports["web"])

    def test_revoke_cuts_only_that_agent(self):
        server = self.start_server(config=self.server_config())
        echo = self.start_echo()
        web = self.start_identified_agent(server, "web-1", self.web_token, echo)
        db = self.start_identified_agent(server, "db-7", self.db_token, echo)
        r = h.run_ctl(server.admin_addr, self.token, "agents", "revoke", "web-1")
        self.assertEqual(r.rc, 0, str(r))
        # Its session ends, told why (exit 1: a restart would not help) ...
        self.assert_exits(web, 1)
        ev = web.wait_for_event("kicked")
        self.assertIn("revoked", ev.get("reason", ""))
        h.wait_until(lambda: h.can_bind(web.remote_ports["web"]),
                     what="the revoked agent's public port to be released")
        # ... and its token no longer works.
        again = self.start_identified_agent(server, "web-1", self.web_token, echo, name="again",
                                            wait_open=False)
        self.assert_exits(again, 1)
        again.wait_for_event("auth_refused")
        h.assert_tunnel_works(self, db.remote_ports["web"])
        self.assert_alive(db)
        listing = h.run_ctl(server.admin_addr, self.token, "agents", "list", "-o", "json")
        self.assertEqual(listing.rc, 0, str(listing))
        self.assertIn("revoked", listing.out)

    def test_allowed_hostnames_limit_what_an_identity_may_claim(self):
        cfg = self.server_config()
        cfg["agents"][0]["allowed_hostnames"] = ["App.Example.Test.", "*.dev.example.test"]
        server = self.start_server(config=cfg, extra_args=[f"--http-listen={h.LOOPBACK}:0"])
        http_port = h.parse_addr(server.wait_for_event("http_listener_ready")["addr"])[1]
        echo = self.start_echo()
        svc = f"{h.LOOPBACK}:{echo.port}"
        web = self.start_agent(server, [f"a=http:app.example.test:{svc}",
                                        f"b=http:x.dev.example.test:{svc}",
                                        f"w=http:*.dev.example.test:{svc}",
                                        f"c=http:other.example.test:{svc}"],
                               token=self.web_token, extra_args=["--agent-id=web-1"],
                               name="web-1", wait_open=False)
        for name in ("a", "b", "w"):
            web.tunnel_port(name)
        refused = web.wait_for_event("tunnel_refused", lambda e: e.get("name") == "c")
        self.assertEqual(refused["code"], "DENIED")
        self.assertFalse(refused["retryable"])
        self.assertIn("may not claim hostname other.example.test", refused["reason"])
        # A claimed name is routed (the echo service returns the request).
        with h.connect(http_port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x.dev.example.test\r\n\r\n")
            got = s.recv(4096)
        self.assertIn(b"Host: x.dev.example.test", got)
        # The policy binds that identity only: the shared token may claim it.
        other = self.start_agent(server, [f"c=http:other.example.test:{svc}"], name="shared")
        other.tunnel_port("c")
        listing = h.run_ctl(server.admin_addr, self.token, "agents", "list", "-o", "json")
        self.assertEqual(listing.rc, 0, str(listing))
        web1 = [a for a in json.loads(listing.out)["agents"] if a["id"] == "web-1"][0]
        self.assertEqual(web1["allowed_hostnames"], ["app.example.test", "*.dev.example.test"])
        table = h.run_ctl(server.admin_addr, self.token, "agents", "list")
        self.assertIn("app.example.test,*.dev.example.test", table.out)

    def test_sighup_without_an_agent_cuts_only_that_agent(self):
        server = self.start_server(config=self.server_config())
        echo = self.start_echo()
        web = self.start_identified_agent(server, "web-1", self.web_token, echo)
        db = self.start_identified_agent(server, "db-7", self.db_token, echo)
        # The server reads the config file it was started with again.
        config_path = next(a.split("=", 1)[1] for a in server.argv if a.startswith("--config="))
        with open(config_path, "w") as f:
            f.write(h.to_yaml(h.deep_merge({"public_bind_addr": h.LOOPBACK},
                                           self.server_config(include_db=False))))
        mark = server.event_mark()
        server.signal(signal.SIGHUP)
        self.assert_exits(db, 1)
        server.wait_for_event("agent_disconnected", since=mark)
        h.assert_tunnel_works(self, web.remote_ports["web"])
        self.assert_alive(web)
        self.assert_alive(server)

    def test_client_certificate_identity_reaches_the_hook(self):
        from test_tls import TlsTest
        p = TlsTest.make_pki(self)
        hook = self.start_hook()
        server = self.start_server(
            config=self.server_config(hook),
            extra_args=[f"--tls-cert={p('server.pem')}", f"--tls-key={p('server.key')}",
                        f"--tls-client-ca={p('ca.pem')}"])
        echo = self.start_echo()
        agent = self.start_agent(
            server, [("web", 0, echo.port)], token=self.web_token, name="web-1",
            extra_args=["--agent-id=web-1", "--tls", f"--tls-ca={p('ca.pem')}",
                        f"--tls-cert={p('client.pem')}", f"--tls-key={p('client.key')}"])
        h.assert_tunnel_works(self, agent.remote_ports["web"])
        md = self.connect_metadata(hook)
        out = subprocess.run(["openssl", "x509", "-in", p("client.pem"), "-noout",
                              "-fingerprint", "-sha256"], check=True, capture_output=True,
                             text=True).stdout
        want = out.strip().split("=", 1)[1].replace(":", "").lower()
        self.assertEqual(md.get("tls.fingerprint_sha256", "").lower(), want, md)
        self.assertIn("CN=client", md.get("tls.subject", ""), md)
        self.assertIn("tls.san", md)
        self.assertEqual(md.get("transport"), "tls", md)
        self.assertEqual(md.get("agent_id"), "web-1", md)
