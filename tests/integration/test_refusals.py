"""Refusals and start-up errors: clear message, right exit code, nobody else
affected."""

import os
import re
import socket
import time
import unittest

import harness as h

ERROR_LINE = re.compile(r"\bERROR\b")


def is_code(ev, name, number):
    code = str(ev.get("code", ""))
    return code == str(number) or code.upper().endswith(name)


class AuthRefusalTest(h.IntegrationTest):
    def test_wrong_token_json(self):
        server, good, echo, port = self.setup_tunnel()
        wrong = "s3cr3t-wrong-" + os.urandom(8).hex()
        self.secrets.add(wrong)
        bad = self.start_agent(server, [("web2", 0, echo.port)], token=wrong, wait_open=False,
                               name="bad-agent")
        self.assert_exits(bad, 1)
        errors = [e for e in bad.events if e.get("level") == "error"]
        self.assertEqual(len(errors), 1, f"expected exactly one error line, got {errors}")
        self.assertEqual(errors[0].get("event"), "auth_refused", errors[0])
        self.assertRegex(errors[0].get("msg", "").lower(), r"token|authentication")
        with self.subTest("auth_refused carries a `reason` field"):
            self.assertTrue(errors[0].get("reason"), f"auth_refused without reason: {errors[0]}")
        self.assertEqual(bad.count_events("connected"), 0, "agent with a wrong token connected")
        server.wait_for_event("connection_rejected")
        # The server keeps serving: the existing tunnel works, a new agent connects.
        self.assert_alive(server)
        h.assert_tunnel_works(self, port)
        _, other, _, port2 = self.setup_tunnel(server=server, name="other", echo=echo)
        h.assert_tunnel_works(self, port2)

    def test_wrong_token_text_one_clear_line(self):
        server = self.start_server()
        echo = self.start_echo()
        wrong = "s3cr3t-wrong-" + os.urandom(8).hex()
        self.secrets.add(wrong)
        bad = self.start_agent(server, [("web", 0, echo.port)], token=wrong, wait_open=False,
                               log_format=None, name="bad-agent")  # default format: text
        self.assert_exits(bad, 1)
        errors = [ln for ln in bad.lines if ERROR_LINE.search(ln)]
        self.assertEqual(len(errors), 1, f"expected exactly one ERROR line:\n{bad.describe()}")
        self.assertRegex(errors[0].lower(), r"token|authentication",
                         "auth error line does not say what is wrong")
        self.assertFalse(any(ln.lstrip().startswith("{") for ln in bad.lines),
                         "default log format is not text")


class PortRefusalTest(h.IntegrationTest):
    def test_port_outside_range_json(self):
        server = self.start_server()
        echo = self.start_echo()
        outside = server.port_range.high + 1
        agent = self.start_agent(server, [("web", outside, echo.port)], wait_open=False)
        ev = agent.wait_for_event("tunnel_refused")
        self.assertEqual(ev.get("level"), "error")
        self.assertEqual(ev.get("name"), "web")
        self.assertTrue(is_code(ev, "PORT_OUT_OF_RANGE", 3), f"unexpected code: {ev}")
        self.assertIn(str(outside), ev.get("msg", ""))
        self.assertIn("range", ev.get("msg", "").lower())
        self.assert_exits(agent, 1)
        self.assertEqual(agent.count_events("tunnel_open"), 0)
        self.assert_alive(server)
        self.assertTrue(h.can_bind(outside), "refused port is bound")
        with self.subTest("tunnel_refused carries a `reason` field"):
            self.assertIn(str(outside), ev.get("reason", ""), f"event: {ev}")
            self.assertIn("range", ev.get("reason", "").lower())

    def test_port_outside_range_text_one_line(self):
        server = self.start_server()
        echo = self.start_echo()
        outside = server.port_range.low - 1
        agent = self.start_agent(server, [("web", outside, echo.port)], wait_open=False,
                                 log_format="text")
        self.assert_exits(agent, 1)
        errors = [ln for ln in agent.lines if ERROR_LINE.search(ln)]
        self.assertEqual(len(errors), 1, f"expected exactly one ERROR line:\n{agent.describe()}")
        self.assertIn(str(outside), errors[0])
        self.assertIn("range", errors[0].lower())
        self.assertIn("web", errors[0])

    def test_one_good_one_refused_tunnel_keeps_running(self):
        # Only when EVERY tunnel is refused permanently does the agent exit.
        server = self.start_server()
        echo = self.start_echo()
        outside = server.port_range.high + 1
        agent = self.start_agent(server, ["ok=0:127.0.0.1:%d" % echo.port,
                                          "bad=%d:127.0.0.1:%d" % (outside, echo.port)],
                                 wait_open=False)
        port = agent.tunnel_port("ok")
        agent.wait_for_event("tunnel_refused", lambda e: e.get("name") == "bad")
        h.assert_tunnel_works(self, port)
        self.assert_alive(agent)

    def _assert_in_use_backoff(self, agent, port):
        ev = agent.wait_for_event("tunnel_refused")
        self.assertTrue(is_code(ev, "PORT_IN_USE", 4), f"unexpected code: {ev}")
        self.assertIn(str(port), ev.get("msg", ""), f"message does not name the port: {ev}")
        with self.subTest("tunnel_refused carries a `reason` field"):
            self.assertIn(str(port), ev.get("reason", ""), f"event: {ev}")
        # Observation window (inherent): the agent retries with backoff, it
        # neither exits nor hammers the server.
        first = time.monotonic()
        end = first + 3.0
        while time.monotonic() < end:
            self.assert_alive(agent)
            time.sleep(0.1)
        n = agent.count_events("tunnel_refused")
        self.assertGreaterEqual(n, 1)
        self.assertLessEqual(n, 4, f"{n} refusals in ~3s: agent is hammering the server")

    def test_port_taken_by_plain_socket(self):
        server = self.start_server()
        echo = self.start_echo()
        taken = server.port_range.low + 2
        blocker = socket.socket()
        blocker.bind((h.LOOPBACK, taken))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        agent = self.start_agent(server, [("web", taken, echo.port)], wait_open=False)
        self._assert_in_use_backoff(agent, taken)
        # Once the port frees up, the retry succeeds by itself.
        blocker.close()
        self.assertEqual(agent.tunnel_port("web", timeout=60), taken)
        h.wait_tunnel_works(taken)

    def test_port_taken_by_another_agent(self):
        server, first, echo, port = self.setup_tunnel()
        second = self.start_agent(server, [("web", port, echo.port)], wait_open=False,
                                  name="agent2")
        self._assert_in_use_backoff(second, port)
        # The holder is unaffected.
        h.assert_tunnel_works(self, port)
        self.assertEqual(first.count_events("disconnected"), 0)
        # When the holder goes away, the waiting agent takes the port over.
        first.terminate()
        self.assert_exits(first, 0)
        self.assertEqual(second.tunnel_port("web", timeout=60), port)
        h.wait_tunnel_works(port)

    def test_max_tunnels_per_agent(self):
        server = self.start_server(config={"limits": {"max_tunnels_per_agent": 2}})
        echo = self.start_echo()
        agent = self.start_agent(server, ["t%d=0:127.0.0.1:%d" % (i, echo.port)
                                          for i in range(3)], wait_open=False)
        ev = agent.wait_for_event("tunnel_refused")
        self.assertTrue(is_code(ev, "LIMIT", 5), f"unexpected code: {ev}")
        h.wait_until(lambda: agent.count_events("tunnel_open") == 2, 20,
                     "two tunnels to open")
        self.assertEqual(agent.count_events("tunnel_open"), 2)
        self.assert_alive(agent)

    def test_max_visitors_per_tunnel(self):
        server, agent, echo, port = self.setup_tunnel(
            config={"limits": {"max_visitors_per_tunnel": 3}})
        held = []
        for i in range(3):
            s = h.connect(port)
            self.addCleanup(s.close)
            s.sendall(b"hi%d" % i)
            self.assertEqual(h.recv_exactly(s, 3), b"hi%d" % i)
            held.append(s)
        extra = h.connect(port)
        self.addCleanup(extra.close)
        try:
            extra.sendall(b"over")
        except OSError:
            pass
        data, how = h.recv_until_eof(extra, timeout=20)
        self.assertEqual(data, b"", "4th visitor was relayed despite max_visitors_per_tunnel=3")
        # Held visitors are unaffected; freeing a slot admits a new visitor.
        held[0].sendall(b"ok?")
        self.assertEqual(h.recv_exactly(held[0], 3), b"ok?")
        held[1].close()
        h.wait_tunnel_works(port, timeout=20)


class CommandLineErrorTest(h.IntegrationTest):
    """Usage and config errors: exit code 2, before touching the network."""

    def _run(self, binary_name, args, name):
        p = self.spawn(h.Proc, name, [h.binary(binary_name)] + list(args))
        rc = p.wait_exit(20)
        return p, rc

    def _agent_args(self, server_port, tunnels):
        return ([f"--server={h.LOOPBACK}:{server_port}", f"--token={self.token}"] +
                [f"--tunnel={t}" for t in tunnels])

    def test_bad_tunnel_specs_exit_2(self):
        server = self.start_server()
        local = "127.0.0.1:8080"
        cases = {
            "duplicate names": ["web=0:" + local, "web=0:127.0.0.1:8081"],
            "missing parts": ["web"],
            "no local port": ["web=0:127.0.0.1"],
            "non-numeric remote port": ["web=abc:" + local],
            "remote port too big": ["web=70000:" + local],
            "local port zero": ["web=0:127.0.0.1:0"],
            "bad name": ["bad name!=0:" + local],
            "empty name": ["=0:" + local],
        }
        for what, tunnels in cases.items():
            with self.subTest(what):
                p, rc = self._run("reitunnel", self._agent_args(server.agent_port, tunnels),
                                  "agent-" + what.replace(" ", "-"))
                self.assertEqual(rc, 2, f"{what}: {tunnels}\n{p.describe()}")
                self.assertTrue(any(ln.strip() for ln in p.lines),
                                f"{what}: exit 2 without any message")
                self.assertTrue(any("tunnel" in ln.lower() for ln in p.lines),
                                f"{what}: message does not mention the tunnel:\n{p.describe()}")
        self.assertEqual(server.count_events("agent_connected"), 0,
                         "an agent with a bad command line connected to the server")

    def test_agent_bad_config_key_exit_2(self):
        path = self.write_config("agent.yaml",
                                 f'server: "127.0.0.1:1"\ntoken: "{self.token}"\n'
                                 'tunnels:\n  - name: "web"\n    remote_prot: 0\n'
                                 '    local_addr: "127.0.0.1:8080"\n')
        p, rc = self._run("reitunnel", [f"--config={path}"], "agent-badcfg")
        self.assertEqual(rc, 2, p.describe())
        self.assertTrue(any("remote_prot" in ln for ln in p.lines),
                        f"message does not name the bad key:\n{p.describe()}")

    def test_server_bad_config_key_exit_2_names_path(self):
        path = self.write_config("server.yaml", "limits:\n  max_tunels_per_agent: 3\n")
        p, rc = self._run("reitunneld", [f"--config={path}", f"--token={self.token}",
                                         "--listen=127.0.0.1:0", "--admin=127.0.0.1:0"],
                          "server-badcfg")
        self.assertEqual(rc, 2, p.describe())
        self.assertTrue(any("limits.max_tunels_per_agent" in ln for ln in p.lines),
                        f"message does not name limits.max_tunels_per_agent:\n{p.describe()}")

    def test_server_bad_config_value_exit_2_names_path(self):
        path = self.write_config("server.yaml", "timeouts:\n  handshake_ms: soon\n")
        p, rc = self._run("reitunneld", [f"--config={path}", f"--token={self.token}",
                                         "--listen=127.0.0.1:0", "--admin=127.0.0.1:0"],
                          "server-badval")
        self.assertEqual(rc, 2, p.describe())
        self.assertTrue(any("timeouts.handshake_ms" in ln for ln in p.lines),
                        f"message does not name timeouts.handshake_ms:\n{p.describe()}")

    def test_server_without_token_exit_2(self):
        ports = self.port_range()
        for what, args in {"no token": [], "empty token": ["--token="]}.items():
            with self.subTest(what):
                p, rc = self._run("reitunneld", ["--listen=127.0.0.1:0", "--admin=127.0.0.1:0",
                                                 f"--public-ports={ports.spec}"] + args,
                                  "server-" + what.replace(" ", "-"))
                self.assertEqual(rc, 2, p.describe())
                self.assertTrue(any("token" in ln.lower() for ln in p.lines),
                                f"message does not mention the token:\n{p.describe()}")

    def test_server_bad_public_ports_exit_2(self):
        for spec in ("50010-50000", "abc", "0-10", "1000-70000"):
            with self.subTest(spec):
                p, rc = self._run("reitunneld", ["--listen=127.0.0.1:0", "--admin=127.0.0.1:0",
                                                 f"--token={self.token}",
                                                 f"--public-ports={spec}"],
                                  "server-ports-" + spec)
                self.assertEqual(rc, 2, p.describe())

    def test_agent_without_token_or_server_exit_2(self):
        cases = {"no token": [f"--server={h.LOOPBACK}:1", "--tunnel=web=0:127.0.0.1:8080"],
                 "no server": [f"--token={self.token}", "--tunnel=web=0:127.0.0.1:8080"]}
        for what, args in cases.items():
            with self.subTest(what):
                p, rc = self._run("reitunnel", args, "agent-" + what.replace(" ", "-"))
                self.assertEqual(rc, 2, p.describe())


class ConfigFileTest(h.IntegrationTest):
    def test_token_and_tunnels_from_config_files_flags_override(self):
        ports = self.port_range()
        echo = self.start_echo()
        # Server: token + range from file; --public-ports flag overrides the
        # file's (unusable) range.
        server = self.start_server(token=False, ports=ports,
                                   config={"token": self.token, "public_ports": "1-2"})
        agent_cfg = {"server": server.agent_addr, "token": self.token,
                     "tunnels": [{"name": "fromfile", "remote_port": ports.low + 1,
                                  "local_addr": f"{h.LOOPBACK}:{echo.port}"}],
                     "reconnect": {"initial_backoff_ms": 100, "max_backoff_ms": 1000}}
        agent = self.start_agent(None, [], token=False, config=agent_cfg, wait_open=False)
        self.assertEqual(agent.tunnel_port("fromfile"), ports.low + 1)
        h.assert_tunnel_works(self, ports.low + 1)
        # --tunnel on the command line replaces the file's list.
        agent2 = self.start_agent(None, [("fromflag", ports.low + 2, echo.port)], token=False,
                                  config=agent_cfg, name="agent2")
        self.assertEqual(agent2.remote_ports["fromflag"], ports.low + 2)
        self.assertEqual(agent2.count_events("tunnel_open",
                                             lambda e: e.get("name") == "fromfile"), 0)


if __name__ == "__main__":
    unittest.main()
