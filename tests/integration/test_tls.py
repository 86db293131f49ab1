"""TLS and mTLS on the agent link, with certificates made by openssl for
each test run."""

import json
import os
import subprocess
import unittest

import harness
from harness import IntegrationTest, LOOPBACK


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class TlsTest(IntegrationTest):
    def make_pki(self):
        d = self.tmp

        def issue(name, ca, ext):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                    "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=d)
            self.write_file(f"{name}.ext", ext)
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
                    f"{ca}.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
                    "-extfile", f"{name}.ext", cwd=d)

        for ca in ("ca", "other-ca"):
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                    "-subj", f"/CN={ca}", "-days", "2", "-out", f"{ca}.pem", cwd=d)
        issue("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        issue("client", "ca", "extendedKeyUsage=clientAuth\n")
        issue("stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
        # A hook service known by a name that is not its address.
        issue("hook", "ca", "subjectAltName=DNS:policy.hooks.internal\n")
        return lambda name: os.path.join(d, name)

    def tls_server(self, p, mtls=False):
        args = [f"--tls-cert={p('server.pem')}", f"--tls-key={p('server.key')}"]
        if mtls:
            args.append(f"--tls-client-ca={p('ca.pem')}")
        return self.start_server(extra_args=args)

    def test_relay_and_half_close_over_tls(self):
        p = self.make_pki()
        server = self.tls_server(p)
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)],
                                 extra_args=["--tls", f"--tls-ca={p('ca.pem')}"])
        port = agent.remote_ports["web"]
        payload = os.urandom(2 * 1024 * 1024 + 3)
        # echo_roundtrip half-closes after sending: the full echo must still
        # come back across the TLS data connection.
        self.assertEqual(harness.echo_roundtrip(port, payload), payload)

    def test_hostname_is_verified(self):
        p = self.make_pki()
        server = self.tls_server(p)
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)], wait_open=False,
                                 extra_args=["--tls", f"--tls-ca={p('ca.pem')}",
                                             "--tls-server-name=wrong.example"])
        ev = agent.wait_for_event("connect_failed")
        self.assertIn("TLS", ev.get("error", "") + ev.get("msg", ""))
        self.assertEqual(agent.count_events("connected"), 0)

    def test_mtls_requires_a_certificate_from_the_client_ca(self):
        p = self.make_pki()
        server = self.tls_server(p, mtls=True)
        echo = self.start_echo()
        for name, extra in (("nocert", []),
                            ("stranger", [f"--tls-cert={p('stranger.pem')}",
                                          f"--tls-key={p('stranger.key')}"])):
            with self.subTest(client=name):
                a = self.start_agent(server, [("web", 0, echo.port)], wait_open=False, name=name,
                                     extra_args=["--tls", f"--tls-ca={p('ca.pem')}", *extra])
                a.wait_for_event("connect_failed")
                self.assertEqual(a.count_events("connected"), 0)
                a.kill()
        good = self.start_agent(server, [("web", 0, echo.port)], name="good",
                                extra_args=["--tls", f"--tls-ca={p('ca.pem')}",
                                            f"--tls-cert={p('client.pem')}",
                                            f"--tls-key={p('client.key')}"])
        self.assertTrue(harness.tunnel_works(good.remote_ports["web"], size=256 * 1024))

    def test_plain_agent_cannot_talk_to_a_tls_server(self):
        p = self.make_pki()
        server = self.tls_server(p)
        echo = self.start_echo()
        plain = self.start_agent(server, [("web", 0, echo.port)], wait_open=False, name="plain")
        plain.wait_for_event("connect_failed")
        good = self.start_agent(server, [("web", 0, echo.port)], name="good",
                                extra_args=["--tls", f"--tls-ca={p('ca.pem')}"])
        self.assertTrue(harness.tunnel_works(good.remote_ports["web"]))


    def start_tls_hook(self, p):
        hook = self.spawn(harness.Proc, "minimal-hook",
                          [harness.binary("minimal-hook"), f"--listen={LOOPBACK}:0",
                           f"--tls-cert={p('hook.pem')}", f"--tls-key={p('hook.key')}",
                           f"--tls-client-ca={p('ca.pem')}"])
        harness.wait_until(lambda: any('"listening"' in l for l in hook.stdout_lines),
                           what="minimal-hook to listen")
        line = [l for l in hook.stdout_lines if '"listening"' in l][0]
        return json.loads(line)["address"]

    def test_hook_over_mtls_with_server_name_override(self):
        p = self.make_pki()
        address = self.start_tls_hook(p)
        tls = {"ca_file": p("ca.pem"), "server_name": "policy.hooks.internal",
               "cert_file": p("client.pem"), "key_file": p("client.key")}
        server = self.start_server(config={"hooks": [
            {"name": "policy", "address": address, "events": ["tunnel_open"], "tls": tls}]})
        echo = self.start_echo()
        agent = self.start_agent(server, [f"admin=0:{LOOPBACK}:{echo.port}",
                                          f"web=0:{LOOPBACK}:{echo.port}"], wait_open=False)
        refused = agent.wait_for_event("tunnel_refused", lambda e: e.get("name") == "admin")
        # The hook's own reason proves the call went through over mTLS.
        self.assertEqual(refused["code"], "DENIED")
        self.assertNotIn('policy hook "policy"', refused["reason"])
        self.assertTrue(harness.tunnel_works(agent.tunnel_port("web")))

    def test_hook_with_untrusted_certificate_fails_closed(self):
        p = self.make_pki()
        address = self.start_tls_hook(p)
        tls = {"ca_file": p("other-ca.pem"), "server_name": "policy.hooks.internal",
               "cert_file": p("client.pem"), "key_file": p("client.key")}
        # The hook never completes a handshake: the server waits startup_wait_ms
        # for it, then its fail_closed policy refuses, as a retryable refusal.
        server = self.start_server(config={
            "hooks": [{"name": "policy", "address": address, "events": ["tunnel_open"],
                       "tls": tls, "timeout_ms": 2000}],
            "hook_settings": {"startup_wait_ms": 1000}})
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)], wait_open=False)
        refused = agent.wait_for_event("tunnel_refused")
        self.assertIn('policy hook "policy"', refused["reason"])
        self.assertEqual(refused["code"], "UNAVAILABLE")
        self.assertNotIn("ssl", refused["reason"].lower(), "transport details leak to the agent")
        self.assert_alive(agent)  # retryable: the agent keeps trying


if __name__ == "__main__":
    unittest.main()
