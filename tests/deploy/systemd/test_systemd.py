"""deploy/systemd: the units parse and verify with systemd's own tools, keep
their hardening, and document exit codes the binaries really return.

- `systemd-analyze verify` on each unit (ExecStart pointed at the binaries
  built here): no error and no warning (unknown keys and bad values are
  warnings there, so any output fails).
- `systemd-analyze security --offline=yes`: the exposure score stays low.
- Structure: Restart=on-failure, RestartPreventExitStatus=2, the token from
  an EnvironmentFile, the stop timeout above the server's drain.
- The exit codes the units document (0, 1, 2) are the ones `--help` lists,
  and the binaries return them: a bad flag 2, a refused start 1, SIGTERM 0.

Needs systemd-analyze (Debian's systemd package, installed by
scripts/install-deps.sh), not a running systemd. Run by ctest as
`deploy.systemd`, or by hand:

    cd tests/deploy/systemd && REITUNNEL_BIN_DIR=$PWD/../../../build/bin \\
      /usr/bin/python3 -m unittest -v test_systemd
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(_SRC, "tests", "integration"))

import harness as h  # noqa: E402

UNITS = os.path.join(_SRC, "deploy", "systemd")
PROGRAMS = {"reitunneld.service": "reitunneld", "reitunnel.service": "reitunnel"}
DEFAULT_DRAIN_S = 10  # timeouts.drain_ms default (server.proto)


def parse_unit(path):
    """{section: {key: [values]}} plus the comment text."""
    sections, comments, cur = {}, [], None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if line.startswith("#"):
                comments.append(line[1:])
                continue
            if not line:
                continue
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                cur = sections.setdefault(m.group(1), {})
                continue
            key, _, value = line.partition("=")
            cur.setdefault(key.strip(), []).append(value.strip())
    return sections, "\n".join(comments)


def seconds(value):
    m = re.fullmatch(r"(\d+)(ms|s|min)?", value)
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, None: n, "min": 60 * n}[m.group(2)]


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        raise AssertionError("systemd-analyze not found: install Debian's systemd package "
                             "(scripts/install-deps.sh does)")
    return path


class UnitFilesTest(unittest.TestCase):

    def staged(self):
        """The units in a temp dir, ExecStart pointed at the built binaries
        (verify checks that the command exists and is executable)."""
        d = tempfile.mkdtemp(prefix="systemd-units-")
        self.addCleanup(shutil.rmtree, d, True)
        for unit, prog in PROGRAMS.items():
            with open(os.path.join(UNITS, unit)) as f:
                text = f.read()
            text = text.replace(f"/usr/local/bin/{prog} ", f"{h.binary(prog)} ")
            with open(os.path.join(d, unit), "w") as f:
                f.write(text)
        return d

    def test_systemd_analyze_verify_is_silent(self):
        d = self.staged()
        for unit in PROGRAMS:
            p = subprocess.run([systemd_analyze(), "verify", os.path.join(d, unit)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, f"{unit}:\n{p.stdout}{p.stderr}")
            self.assertEqual((p.stdout + p.stderr).strip(), "",
                             f"{unit}: systemd-analyze verify warns:\n{p.stdout}{p.stderr}")

    def test_hardening_exposure_stays_low(self):
        d = self.staged()
        for unit in PROGRAMS:
            p = subprocess.run([systemd_analyze(), "security", "--offline=yes",
                                os.path.join(d, unit)], capture_output=True, text=True,
                               timeout=60)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout + p.stderr)
            self.assertIsNotNone(m, f"{unit}: no exposure level in\n{p.stdout}{p.stderr}")
            self.assertLessEqual(float(m.group(1)), 2.0,
                                 f"{unit}: exposure {m.group(1)} (was 1.4); see "
                                 "systemd-analyze security --offline=yes")

    def test_restart_policy_and_secrets(self):
        for unit, prog in PROGRAMS.items():
            sections, comments = parse_unit(os.path.join(UNITS, unit))
            svc = sections["Service"]
            self.assertEqual(svc["Restart"], ["on-failure"], unit)
            self.assertEqual(svc["RestartPreventExitStatus"], ["2"], unit)
            self.assertEqual(svc["ExecStart"][0].split()[0], f"/usr/local/bin/{prog}", unit)
            self.assertNotRegex(svc["ExecStart"][0], r"--(token|admin-token)=",
                                f"{unit}: secrets on the command line show in ps")
            self.assertEqual(len(svc["EnvironmentFile"]), 1, unit)
            env_example = os.path.join(UNITS, f"{prog}.env.example")
            with open(env_example) as f:
                self.assertRegex(f.read(), r"(?m)^REITUNNEL_TOKEN=", env_example)
            for key in ("NoNewPrivileges", "ProtectSystem", "DynamicUser", "PrivateTmp",
                        "RestrictAddressFamilies", "SystemCallFilter"):
                self.assertIn(key, svc, f"{unit}: {key} missing")
            self.assertEqual(sections["Install"]["WantedBy"], ["multi-user.target"], unit)
        svc = parse_unit(os.path.join(UNITS, "reitunneld.service"))[0]["Service"]
        self.assertGreater(seconds(svc["TimeoutStopSec"][0]), DEFAULT_DRAIN_S + 2,
                           "SIGKILL would cut the server's drain")
        self.assertEqual(svc["ExecReload"], ["/bin/kill -HUP $MAINPID"])

    def test_documented_exit_codes_match_help(self):
        for unit, prog in PROGRAMS.items():
            _, comments = parse_unit(os.path.join(UNITS, unit))
            documented = set(re.findall(r"(?m)^\s+(\d)\s{2}\S", comments))
            self.assertEqual(documented, {"0", "1", "2"}, f"{unit}: exit codes in the comments")
            p = subprocess.run([h.binary(prog), "--help"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            m = re.search(r"Exit codes:(.*?)\n\n", p.stdout, re.S)
            self.assertIsNotNone(m, f"{prog} --help lists no exit codes")
            text = " ".join(m.group(1).split())
            self.assertEqual(set(re.findall(r"(?:^|, )(\d) ", text)), {"0", "1", "2"}, text)


class ExitCodesTest(h.IntegrationTest):
    """What the units' RestartPreventExitStatus and comments rely on."""

    def test_server_exit_codes(self):
        p = subprocess.run([h.binary("reitunneld"), "--no-such-flag"], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        # A port in use: 1 (restarted: the port may come free).
        taken = h.reserve_refusing_port()
        self.addCleanup(taken.close)
        taken.listen(1)
        server = self.start_server(admin=f"127.0.0.1:{taken.getsockname()[1]}", wait_ready=False)
        self.assert_exits(server, 1)
        # SIGTERM: drains and exits 0.
        server = self.start_server()
        server.signal(signal.SIGTERM)
        self.assert_exits(server, 0)

    def test_agent_exit_codes(self):
        p = subprocess.run([h.binary("reitunnel"), "--tunnel=broken"], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        server = self.start_server()
        wrong = "wr0ng-" + os.urandom(8).hex()
        self.secrets.add(wrong)
        agent = self.start_agent(server, [("web", 0, h.unused_port())], token=wrong,
                                 wait_open=False, name="wrong-token")
        self.assert_exits(agent, 1)
        agent = self.start_agent(server, [("web", 0, h.unused_port())])
        agent.signal(signal.SIGTERM)
        self.assert_exits(agent, 0)


if __name__ == "__main__":
    unittest.main()
