"""reitunnelctl against a live reitunneld: every command, both output
formats, exit codes and error lines, secrets kept out of all output.

Uses the shared process harness of tests/integration (polling with
deadlines, port windows, cleanup, secret-leak checks). Run by ctest as
`cli.integration`, or by hand:

    cd tests/cli && REITUNNEL_BIN_DIR=$PWD/../../build/bin \
      /usr/bin/python3 -m unittest -v test_cli
"""

import json
import os
import signal
import socket
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "integration"))

import harness as h  # noqa: E402

CTL_TIMEOUT = 60  # a hung CLI is a failure, not a hang of the suite


class CtlResult:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"{self} did not print JSON: {e}") from None

    def __str__(self):
        return (f"reitunnelctl {' '.join(self.argv)} -> rc={self.rc}\n"
                f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}")


class CliTest(h.IntegrationTest):

    # -- helpers -------------------------------------------------------------

    def ctl(self, *args, admin=None, token=None, env=None, globals_first=True):
        """Runs reitunnelctl. admin/token default to this test's server and
        token (False: leave the flag out). Globals go before the command
        words, or after them with globals_first=False."""
        glob = []
        admin = self.server.admin_addr if admin is None else admin
        if admin is not False:
            glob.append(f"--admin={admin}")
        tok = self.token if token is None else token
        if tok is not False:
            glob.append(f"--token={tok}")
        argv = glob + list(args) if globals_first else list(args) + glob
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("REITUNNEL_ADMIN", "REITUNNEL_ADMIN_TOKEN")}
        full_env.update(env or {})
        p = subprocess.run([h.binary("reitunnelctl")] + argv, capture_output=True,
                           timeout=CTL_TIMEOUT, env=full_env, stdin=subprocess.DEVNULL)
        r = CtlResult(argv, p.returncode, p.stdout.decode(), p.stderr.decode())
        for secret in self.secrets:
            self.assertNotIn(secret, r.out + r.err, f"secret leaked by\n{r}")
        if r.rc != 0:
            self.assertEqual(r.err.count("\n"), 1, f"error must be one line\n{r}")
            self.assertTrue(r.err.startswith("reitunnelctl: "), str(r))
        return r

    def ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.rc, 0, str(r))
        return r

    def start_all(self, labels=("team=blue",)):
        self.server = self.start_server()
        self.echo = self.start_echo()
        self.agent = self.start_agent(
            self.server, [("web", 0, self.echo.port)],
            extra_args=[f"--label={label}" for label in labels])
        self.port = self.agent.remote_ports["web"]
        ev = self.agent.wait_for_event("tunnel_open", lambda e: e.get("name") == "web")
        self.tunnel_id = ev["tunnel_id"]
        self.client_id = self.agent.client_id
        self.assertTrue(self.tunnel_id and self.client_id)

    def roundtrip(self, n):
        payload = os.urandom(n)
        back = h.echo_roundtrip(self.port, payload)
        self.assertEqual(back, payload)
        return n

    def only(self, items, what):
        self.assertEqual(len(items), 1, f"expected one {what}: {items}")
        return items[0]

    # -- tests ---------------------------------------------------------------

    def test_lists_and_shows_match_the_live_tunnel(self):
        self.start_all()
        sent = self.roundtrip(100_000) + self.roundtrip(3_333)

        # Counters are live: poll until they reach what went through.
        def tunnel_when_counted():
            t = self.only(self.ok("tunnels", "list", "-o", "json").json()["tunnels"], "tunnel")
            return t if (int(t["bytes_in"]), int(t["bytes_out"])) == (sent, sent) else None
        t = h.wait_until(tunnel_when_counted, what=f"tunnel counters to reach {sent}/{sent}")
        self.assertEqual(t["tunnel_id"], self.tunnel_id)
        self.assertEqual(t["name"], "web")
        self.assertEqual(t["client_id"], self.client_id)
        self.assertEqual(t["remote_port"], self.port)
        self.assertEqual(t["local_addr"], f"127.0.0.1:{self.echo.port}")
        self.assertEqual(int(t["active_visitors"]), 0)
        self.assertEqual(int(t["visitors_total"]), 2)
        self.assertTrue(t["opened_at"].endswith("Z"), t)

        # Same document with the globals after the command words.
        doc = self.ok("tunnels", "list", "-o", "json", globals_first=False).json()
        self.assertEqual(doc["next_page_token"], "")
        self.assertEqual(doc["total_size"], 1)
        self.assertEqual(doc["tunnels"][0]["tunnel_id"], self.tunnel_id)
        self.assertEqual(self.ok("tunnels", "list", "--output=json").json()["tunnels"][0]["name"],
                         "web")

        shown = self.ok("tunnels", "show", self.tunnel_id, "-o", "json").json()
        for key in ("tunnel_id", "name", "client_id", "remote_port", "local_addr", "bytes_in",
                    "bytes_out"):
            self.assertEqual(shown[key], t[key], key)

        c = self.only(self.ok("clients", "list", "-o", "json").json()["clients"], "client")
        self.assertEqual(c["client_id"], self.client_id)
        self.assertEqual(c["labels"], {"team": "blue"})
        host, port = h.parse_addr(c["remote_addr"])
        self.assertEqual(host, "127.0.0.1")
        self.assertGreater(port, 0)
        self.assertEqual(c["tunnel_ids"], [self.tunnel_id])
        self.assertTrue(c["agent_version"])
        self.assertEqual((int(c["bytes_in"]), int(c["bytes_out"])), (sent, sent))
        shown = self.ok("clients", "show", self.client_id, "-o", "json").json()
        for key in ("client_id", "labels", "remote_addr", "tunnel_ids", "agent_version"):
            self.assertEqual(shown[key], c[key], key)

        # Filters.
        def count(kind, *flags):
            return len(self.ok(kind, "list", "-o", "json", *flags).json()[kind])
        self.assertEqual(count("tunnels", f"--client={self.client_id}"), 1)
        self.assertEqual(count("tunnels", "--client=0000000000000000"), 0)
        self.assertEqual(count("tunnels", "--label=team=blue"), 1)
        self.assertEqual(count("tunnels", "--label=team=red"), 0)
        self.assertEqual(count("clients", "--label=team=blue"), 1)
        self.assertEqual(count("clients", "--label=team=red"), 0)
        self.assertEqual(count("clients", "--limit=1"), 1)

        # Tables.
        out = self.ok("tunnels", "list").out.splitlines()
        self.assertEqual(out[0].split(), ["ID", "NAME", "CLIENT", "PORT", "LOCAL", "VISITORS",
                                          "IN", "OUT", "AGE"])
        row = self.only([line for line in out[1:] if self.tunnel_id in line], "table row")
        cells = row.split()
        self.assertEqual(cells[:5], [self.tunnel_id, "web", self.client_id, str(self.port),
                                     f"127.0.0.1:{self.echo.port}"])
        self.assertIn("100.9 KiB", row)  # 103333 B, both ways
        out = self.ok("clients", "list").out.splitlines()
        self.assertEqual(out[0].split(), ["ID", "ADDRESS", "VERSION", "LABELS", "TUNNELS", "IN",
                                          "OUT", "CONNECTED"])
        self.assertIn("team=blue", out[1])
        self.assertTrue(out[1].startswith(self.client_id), out)
        shown = self.ok("tunnels", "show", self.tunnel_id).out
        self.assertIn("web", shown)
        self.assertIn(str(self.port), shown)

    def test_status_config(self):
        self.server = self.start_server()
        config = self.ok("status", "-o", "json").json()["config_yaml"]
        # admin.proto: "the effective configuration as YAML with every secret
        # replaced by "<redacted>"".
        self.assertNotIn(self.token, config)
        self.assertRegex(config, r"(?m)^token: *[\"']?<redacted>")
        out = self.ok("status", "--config").out
        self.assertIn("# effective configuration (secrets redacted)", out)
        self.assertIn(config.strip(), out)

    def test_pages(self):
        self.server = self.start_server()
        echo = self.start_echo()
        agent = self.start_agent(self.server, [(n, 0, echo.port) for n in ("a", "b", "c")])
        ids = {e["tunnel_id"] for e in agent.find_events("tunnel_open")}
        self.assertEqual(len(ids), 3)
        # One tunnel per call: the CLI follows the server's page tokens.
        doc = self.ok("tunnels", "list", "--page-size=1", "-o", "json").json()
        self.assertEqual({t["tunnel_id"] for t in doc["tunnels"]}, ids)
        self.assertEqual(len(doc["tunnels"]), 3)
        self.assertEqual((doc["total_size"], doc["next_page_token"]), (3, ""))
        for flags in (("--limit=2",), ("--limit=2", "--page-size=1")):
            doc = self.ok("tunnels", "list", "-o", "json", *flags).json()
            self.assertEqual(len(doc["tunnels"]), 2, flags)
            self.assertLessEqual({t["tunnel_id"] for t in doc["tunnels"]}, ids)
            self.assertNotEqual(doc["next_page_token"], "", flags)  # more to fetch
            self.assertEqual(doc["total_size"], 3)
        self.assertEqual(len(self.ok("tunnels", "list").out.splitlines()), 4)

    def test_status_and_hooks(self):
        self.start_all()
        info = self.ok("status", "-o", "json").json()
        self.assertTrue(info["version"])
        self.assertEqual(info["clients"], 1)
        self.assertEqual(info["tunnels"], 1)
        self.assertEqual(info["admin_addr"], self.server.admin_addr)
        self.assertEqual(info["listen_addr"], self.server.agent_addr)
        self.assertNotIn(self.token, info["config_yaml"])
        out = self.ok("status").out
        self.assertRegex(out, rf"(?m)^version: +{info['version']}$")
        self.assertRegex(out, r"(?m)^clients: +1$")
        self.assertRegex(out, r"(?m)^tunnels: +1$")
        self.assertRegex(out, r"(?m)^uptime: +\d")
        hooks = self.ok("hooks", "list").out.splitlines()
        self.assertEqual(hooks[0].split(), ["NAME", "ADDRESS", "STATE", "DESCRIBED", "CALLS",
                                            "ALLOW", "DENY", "ERR", "TIMEOUT", "FAILOPEN", "P50",
                                            "P99", "QUEUE", "DROPPED"])
        self.assertIn("hooks", self.ok("hooks", "list", "-o", "json").json())

    def test_close_tunnel_stops_the_public_port(self):
        self.start_all()
        self.roundtrip(1000)
        mark = self.agent.event_mark()
        r = self.ok("tunnels", "close", self.tunnel_id, "--reason=abuse report")
        self.assertIn(self.tunnel_id, r.out)

        def refused():
            try:
                s = socket.create_connection((h.LOOPBACK, self.port), timeout=2)
            except ConnectionRefusedError:
                return True
            s.close()
            return False
        h.wait_until(refused, what=f"public port {self.port} to refuse connections")
        self.agent.wait_for_event("tunnel_closed",
                                  lambda e: e.get("tunnel_id") == self.tunnel_id, since=mark)
        self.assert_alive(self.agent)  # the agent itself stays connected
        r = self.ctl("tunnels", "show", self.tunnel_id)
        self.assertEqual(r.rc, 1, str(r))
        self.assertEqual(r.err, f'reitunnelctl: no tunnel with id "{self.tunnel_id}"\n')
        self.assertEqual(self.ok("tunnels", "list", "-o", "json").json()["tunnels"], [])
        self.assertEqual(self.ok("clients", "show", self.client_id, "-o", "json")
                         .json()["tunnel_ids"], [])

    def test_kick_client(self):
        self.start_all()
        mark = self.agent.event_mark()
        r = self.ok("clients", "kick", self.client_id, "--reason=maintenance")
        self.assertIn(self.client_id, r.out)
        self.agent.wait_for_event("kicked", lambda e: "maintenance" in e.get("msg", ""),
                                  since=mark)
        # It does not come back: it exits, and never connected again.
        self.agent.wait_exit()
        self.assertEqual(self.agent.count_events("connected", since=mark), 0,
                         self.agent.describe())
        h.wait_until(lambda: self.ok("clients", "list", "-o", "json").json()["clients"] == [],
                     what="the kicked agent to leave the client list")
        self.assertEqual(self.ok("tunnels", "list", "-o", "json").json()["tunnels"], [])

    def test_unknown_ids_exit_one(self):
        self.start_all()
        for args, kind in ((("tunnels", "show", "nosuch"), "tunnel"),
                           (("tunnels", "close", "nosuch"), "tunnel"),
                           (("clients", "show", "nosuch"), "client"),
                           (("clients", "kick", "nosuch"), "client")):
            r = self.ctl(*args)
            self.assertEqual(r.rc, 1, str(r))
            self.assertEqual(r.err, f'reitunnelctl: no {kind} with id "nosuch"\n', str(r))
            self.assertEqual(r.out, "")
        self.assert_alive(self.agent)

    def test_credentials(self):
        self.server = self.start_server()
        wrong = "wr0ng-" + os.urandom(8).hex()
        self.secrets.add(wrong)
        for kw in ({"token": False}, {"token": wrong}):
            for args in (("tunnels", "list"), ("status", "-o", "json"), ("events", "watch")):
                r = self.ctl(*args, **kw)
                self.assertEqual(r.rc, 3, str(r))
                self.assertIn("admin API refused the credentials (UNAUTHENTICATED)", r.err)
                self.assertEqual(r.out, "")
        # The environment works; the flag wins over it.
        self.ok("status", token=False, env={"REITUNNEL_ADMIN_TOKEN": self.token})
        self.ok("status", env={"REITUNNEL_ADMIN_TOKEN": wrong})
        r = self.ctl("status", token=wrong, env={"REITUNNEL_ADMIN_TOKEN": self.token})
        self.assertEqual(r.rc, 3, str(r))
        self.ok("status", admin=False, env={"REITUNNEL_ADMIN": self.server.admin_addr})

    def test_unreachable_admin(self):
        sock = h.reserve_refusing_port()  # bound, not listening
        self.addCleanup(sock.close)
        addr = f"127.0.0.1:{sock.getsockname()[1]}"
        r = self.ctl("tunnels", "list", admin=addr)
        self.assertEqual(r.rc, 3, str(r))
        self.assertEqual(r.err, f"reitunnelctl: cannot reach admin API at {addr}: "
                                "connection refused\n")

    def test_events_watch_ends_with_the_server(self):
        self.start_all()
        watch = self.spawn(h.Proc, "watch", [
            h.binary("reitunnelctl"), "events", "watch", "-o", "json",
            f"--admin={self.server.admin_addr}", f"--token={self.token}"])

        def subscribed():
            self.roundtrip(10)
            return len(watch.stdout_lines) > 0
        h.wait_until(subscribed, what="the watch to print a first event", interval=0.1)
        self.agent.terminate()
        self.agent.wait_exit()
        self.server.terminate()
        self.assertEqual(watch.wait_exit(), 0, watch.describe())
        self.assertEqual(json.loads(watch.stdout_lines[-1])["type"], "server_stop")
        self.assertEqual(watch.lines, [])  # nothing on stderr

    def test_hooks_list_shows_configured_hooks(self):
        sock = h.reserve_refusing_port()  # the hook is down: only notified
        self.addCleanup(sock.close)
        hook_addr = f"127.0.0.1:{sock.getsockname()[1]}"
        self.server = self.start_server(config={"hooks": [
            {"name": "audit", "address": hook_addr, "events": ["tunnel_close"],
             "timeout_ms": 250}]})
        doc = self.ok("hooks", "list", "-o", "json").json()
        hook = self.only(doc["hooks"], "hook")
        self.assertEqual((hook["name"], hook["address"]), ("audit", hook_addr))
        self.assertEqual(hook["events"], ["tunnel_close"])
        self.assertEqual(hook["timeout_ms"], 250)
        self.assertEqual(hook["failure_policy"], "fail_closed")
        self.assertIn(doc["strategy"], ("stop_on_error", "collect_and_continue"))
        rows = self.ok("hooks", "list").out.splitlines()
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual(rows[1].split()[:3], ["audit", hook_addr, hook["state"]])

    def make_pki(self):
        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=self.tmp, check=True, capture_output=True)

        def issue(name, ca, ext):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                    "-subj", f"/CN={name}", "-out", f"{name}.csr")
            self.write_file(f"{name}.ext", ext)
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
                    f"{ca}.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
                    "-extfile", f"{name}.ext")

        for ca in ("ca", "other-ca"):
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                    "-subj", f"/CN={ca}", "-days", "2", "-out", f"{ca}.pem")
        issue("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        issue("client", "ca", "extendedKeyUsage=clientAuth\n")
        issue("stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
        return lambda name: os.path.join(self.tmp, name)

    def test_tls_and_mtls(self):
        p = self.make_pki()
        self.server = self.start_server(config={"admin_api": {
            "cert_file": p("server.pem"), "key_file": p("server.key"),
            "client_ca_file": p("ca.pem")}})
        ca = f"--tls-ca={p('ca.pem')}"
        self.assertEqual(self.ok("status", "-o", "json", ca).json()["clients"], 0)
        self.ok("status", "--tls", ca, "--tls-server-name=localhost")
        for args in (("status", ca, "--tls-server-name=wrong.example"),  # name checked
                     ("status",),                                       # plaintext to TLS
                     ("status", f"--tls-ca={p('other-ca.pem')}")):      # wrong CA
            r = self.ctl(*args)
            self.assertEqual(r.rc, 3, str(r))
            self.assertIn("cannot reach admin API at", r.err)
        # mTLS: a certificate from the client CA stands in for the token.
        self.ok("status", ca, f"--tls-cert={p('client.pem')}", f"--tls-key={p('client.key')}",
                token=False)
        r = self.ctl("status", ca, f"--tls-cert={p('stranger.pem')}",
                     f"--tls-key={p('stranger.key')}", token=False)
        self.assertEqual(r.rc, 3, str(r))
        r = self.ctl("status", ca, token=False)
        self.assertEqual(r.rc, 3, str(r))
        self.assertIn("UNAUTHENTICATED", r.err)
        # Unusable files are reported before connecting.
        r = self.ctl("status", ca, f"--tls-cert={p('client.pem')}", f"--tls-key={p('server.key')}")
        self.assertEqual(r.rc, 1, str(r))
        self.assertIn("--tls-cert and --tls-key do not belong together", r.err)
        r = self.ctl("status", f"--tls-ca={p('client.ext')}")
        self.assertEqual(r.rc, 1, str(r))
        self.assertIn("holds no PEM certificate", r.err)

    def test_usage(self):
        self.server = None
        r = self.ctl("--help", admin=False)
        self.assertEqual(r.rc, 0, str(r))
        self.assertIn("tunnels list", r.out)
        for args in (("tunnels", "close", "--help"), ("events", "watch", "-h"), ("status", "--help"),
                     ("clients", "--help")):
            r = self.ctl(*args, admin=False)
            self.assertEqual(r.rc, 0, str(r))
            self.assertIn("Usage: reitunnelctl", r.out)
        for args in ((), ("tunnels",), ("tunnels", "nope"), ("frobnicate",),
                     ("tunnels", "list", "--bogus"), ("tunnels", "show"), ("status", "-o", "xml")):
            r = self.ctl(*args, admin=False)
            self.assertEqual(r.rc, 2, str(r))
            self.assertIn("--help", r.err)

    def test_events_watch(self):
        self.start_all()
        watch_all = self.spawn(h.Proc, "watch-all", [
            h.binary("reitunnelctl"), "events", "watch", "-o", "json",
            f"--admin={self.server.admin_addr}", f"--token={self.token}"])
        watch_a1 = self.spawn(h.Proc, "watch-agent1", [
            h.binary("reitunnelctl"), f"--admin={self.server.admin_addr}", f"--token={self.token}",
            "events", "watch", f"--client={self.client_id}"])

        # A watch only sees events after it subscribed: make visitor traffic
        # on the first agent's tunnel until both watches have shown some.
        def subscribed():
            self.roundtrip(10)
            return len(watch_all.stdout_lines) > 0 and len(watch_a1.stdout_lines) > 1
        h.wait_until(subscribed, what="both watches to print a first event", interval=0.1)

        echo2 = self.start_echo()
        agent2 = self.start_agent(self.server, [("api", 0, echo2.port)], name="agent2")
        tid2 = agent2.wait_for_event("tunnel_open")["tunnel_id"]
        agent2.terminate()
        agent2.wait_exit()

        def events_for(tunnel_id):
            out = []
            for line in list(watch_all.stdout_lines):
                ev = json.loads(line)  # one JSON object per line
                if ev.get("tunnel_id") == tunnel_id:
                    out.append(ev)
            return out
        h.wait_until(lambda: {"tunnel_open", "tunnel_close"} <= {e["type"] for e in events_for(tid2)},
                     what="tunnel_open and tunnel_close of the second agent's tunnel")
        evs = events_for(tid2)
        opened = next(e for e in evs if e["type"] == "tunnel_open")
        closed = next(e for e in evs if e["type"] == "tunnel_close")
        self.assertEqual(opened["client_id"], agent2.client_id)
        self.assertTrue(opened["allowed"])
        self.assertEqual(opened["tunnel_open"]["tunnel_name"], "api")
        self.assertEqual(closed["client_id"], agent2.client_id)
        self.assertIn("tunnel_close", closed)
        self.assertTrue(opened["time"].endswith("Z"))

        # The filtered watch: close agent 1's tunnel, which it must show;
        # events arrive in order, so by then agent 2's would have shown too.
        self.ok("tunnels", "close", self.tunnel_id)
        h.wait_until(lambda: any("tunnel_close" in line and self.tunnel_id in line
                                 for line in watch_a1.stdout_lines),
                     what="the filtered watch to show agent 1's tunnel_close")
        lines = list(watch_a1.stdout_lines)
        self.assertEqual(lines[0].split(), ["TIME", "TYPE", "CLIENT", "TUNNEL", "DETAIL"])
        self.assertFalse([line for line in lines if agent2.client_id in line], lines)
        for line in lines[1:]:
            self.assertIn(self.client_id, line)
        self.assert_alive(watch_all)
        self.assert_alive(watch_a1)
        watch_all.signal(signal.SIGINT)
        watch_a1.signal(signal.SIGINT)


if __name__ == "__main__":
    unittest.main()
