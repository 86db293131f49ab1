"""Hooks written with the SDKs, and from the proto alone, against the real
reitunneld and reitunnel:

- a 20-line Python hook, pip-installed (offline) into a fresh venv with the
  Python SDK, vetoes one tunnel name and lets another relay bytes;
- the Node.js example (hookd-sdk/examples/node, @grpc/grpc-js, no SDK)
  vetoes by name and reports per-tunnel byte counts that equal the bytes
  relayed, exactly, both from data batches and from OnTunnelClose;
- both declare their events with Describe: the server sends them nothing
  else, and refuses to start when a hook is explicitly subscribed to a
  blocking event it does not implement.

The Node tests install the pinned npm packages into <build>/hookd-node
(hookd-sdk/examples/node/install.sh) and skip only when node or npm are
missing.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import unittest

import harness
from harness import IntegrationTest, LOOPBACK, wait_until

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
SYSTEM_PYTHON = "/usr/bin/python3"
NODE_EXAMPLE = os.path.join(_REPO, "hookd-sdk", "examples", "node")

# What a user writes: the whole hook service.
PYTHON_HOOK = textwrap.dedent('''\
    import sys

    from reitunnel_hookd import Hook, allow, deny, main


    class DenyByName(Hook):
        """Refuses the tunnels named on the command line."""

        def __init__(self, names):
            self.names = set(names)

        def on_tunnel_open(self, request):
            if request.tunnel_name in self.names:
                return deny(f"tunnel {request.tunnel_name!r} is not allowed here")
            return allow()


    if __name__ == "__main__":
        sys.exit(main(DenyByName(sys.argv[2:]), argv=sys.argv[1:2]))
    ''')

# Printed by the SDKs (stderr) and the Node hook (stdout) when the server
# calls an event the hook did not declare.
UNDECLARED_CALL_MARKERS = ("which no hook of this service implements", '"unexpected_call"')


def stdout_events(proc, event=None):
    out = []
    for line in list(proc.stdout_lines):
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if event is None or obj.get("event") == event:
                out.append(obj)
    return out


class SdkHookTest(IntegrationTest):
    def wait_listening(self, proc):
        ev = wait_until(lambda: (stdout_events(proc, "listening") or [None])[0],
                        what=f"{proc.name} to print its listening line")
        return ev["address"]

    def hooked_server(self, name, address, events=None, flush_ms=200, **kw):
        hook = {"name": name, "address": address}
        if events is not None:
            hook["events"] = events
        return self.start_server(config={"hooks": [hook],
                                         "hook_settings": {"flush_interval_ms": flush_ms}}, **kw)

    def assert_no_undeclared_calls(self, proc):
        # Depends on reitunneld calling Describe (events not declared are not
        # sent); a server without it sends every event.
        for line in proc.all_output_lines():
            for marker in UNDECLARED_CALL_MARKERS:
                self.assertNotIn(marker, line, f"the server sent {proc.name} an undeclared event")


class PythonSdkHookTest(SdkHookTest):
    """The Python SDK as a user gets it: pip install into a venv."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.venv_dir = tempfile.mkdtemp(prefix="reitunnel-it-venv-")
        # Build from a copy, so that the build leaves nothing in the tree.
        src = os.path.join(cls.venv_dir, "src")
        shutil.copytree(os.path.join(_REPO, "hookd-sdk", "python"),
                        os.path.join(src, "hookd-sdk", "python"),
                        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "proto",
                                                      "__pycache__"))
        shutil.copytree(os.path.join(_REPO, "proto", "reitunnel", "hook"),
                        os.path.join(src, "proto", "reitunnel", "hook"))
        venv = os.path.join(cls.venv_dir, "venv")
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        for argv in ([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", venv],
                     [os.path.join(venv, "bin", "pip"), "install", "--no-build-isolation",
                      "--no-deps", os.path.join(src, "hookd-sdk", "python")]):
            result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
            if result.returncode != 0:
                shutil.rmtree(cls.venv_dir)
                raise AssertionError(f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}")
        cls.python = os.path.join(venv, "bin", "python")
        cls.hook_file = os.path.join(cls.venv_dir, "deny_by_name.py")
        with open(cls.hook_file, "w") as f:
            f.write(PYTHON_HOOK)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.venv_dir, ignore_errors=True)
        super().tearDownClass()

    def start_python_hook(self, *names):
        proc = self.spawn(harness.Proc, "py-hook",
                          [self.python, self.hook_file, f"--listen={LOOPBACK}:0", *names],
                          env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""})
        return proc, self.wait_listening(proc)

    def test_vetoes_one_tunnel_and_relays_the_other(self):
        hook, address = self.start_python_hook("admin")
        server = self.hooked_server("py", address)
        echo = self.start_echo()
        agent = self.start_agent(server, [f"admin=0:{LOOPBACK}:{echo.port}",
                                          f"web=0:{LOOPBACK}:{echo.port}"], wait_open=False)
        refused = agent.wait_for_event("tunnel_refused", lambda e: e.get("name") == "admin")
        self.assertEqual(refused["code"], "DENIED")
        self.assertIn("tunnel 'admin' is not allowed here", refused["msg"])
        payload = os.urandom(256 * 1024)
        self.assertEqual(harness.echo_roundtrip(agent.tunnel_port("web"), payload), payload)
        # The echo service records a connection when it reads EOF, which may
        # come after the client has its echo back.
        wait_until(lambda: echo.finished, what="the echo service to record the connection")
        self.assertEqual(echo.finished[-1][0], len(payload))
        # Final semantics (server calls Describe): only tunnel_open was sent.
        self.assert_no_undeclared_calls(hook)

    def test_explicit_subscription_to_an_undeclared_blocking_event_refuses_start(self):
        # Depends on reitunneld calling Describe at start.
        _, address = self.start_python_hook("admin")
        server = self.hooked_server("py-sdk-hook", address,
                                    events=["tunnel_open", "client_connect"], wait_ready=False)
        self.assertNotEqual(server.wait_exit(), 0, "reitunneld must refuse to start")
        self.assertTrue(any("client_connect" in line and "py-sdk-hook" in line
                            for line in server.lines), server.describe())


class NodeHookTest(SdkHookTest):
    """The Node.js example: the contract from hook.proto alone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        missing = [t for t in ("node", "npm") if shutil.which(t) is None]
        if missing:
            raise unittest.SkipTest(f"{' and '.join(missing)} not found: the Node.js hook tests "
                                    f"need Node.js >= 18 with npm")
        node_dir = os.environ.get("REITUNNEL_NODE_DIR") or os.path.join(
            os.path.dirname(harness.bin_dir()), "hookd-node")
        subprocess.run([os.path.join(NODE_EXAMPLE, "install.sh"), node_dir], check=True,
                       timeout=600)
        cls.node_modules = os.path.join(node_dir, "node_modules")

    def start_node_hook(self, *flags):
        proc = self.spawn(harness.Proc, "node-hook",
                          ["node", os.path.join(NODE_EXAMPLE, "hook.js"),
                           f"--listen={LOOPBACK}:0", *flags],
                          env={"NODE_PATH": self.node_modules})
        return proc, self.wait_listening(proc)

    def test_vetoes_by_name_and_counts_the_relayed_bytes_exactly(self):
        hook, address = self.start_node_hook("--deny-names=admin,db")
        server = self.hooked_server("node", address)
        echo = self.start_echo()
        agent = self.start_agent(server, [f"admin=0:{LOOPBACK}:{echo.port}",
                                          f"web=0:{LOOPBACK}:{echo.port}"], wait_open=False)
        refused = agent.wait_for_event("tunnel_refused", lambda e: e.get("name") == "admin")
        self.assertEqual(refused["code"], "DENIED")
        self.assertIn('tunnel name "admin" is not allowed', refused["msg"])

        web = agent.tunnel_port("web")
        relayed = 0
        for size in (1, 1000, 65536, 1024 * 1024 + 7):
            payload = os.urandom(size)
            self.assertEqual(harness.echo_roundtrip(web, payload), payload)
            relayed += size
        wait_until(lambda: len(echo.finished) == 4,
                   what="the echo service to record all four connections")
        self.assertEqual(sum(n for n, _ in echo.finished), relayed)

        # Closing the tunnel: the agent leaves.
        agent.signal(signal.SIGTERM)
        self.assertEqual(agent.wait_exit(), 0)
        close = wait_until(lambda: [e for e in stdout_events(hook, "tunnel_close")
                                    if e.get("tunnel_name") == "web"],
                           what="the Node hook's tunnel_close for web")[0]
        # The server's exact totals, as the hook logged them...
        self.assertEqual((close["bytes_received"], close["bytes_sent"]), (relayed, relayed))
        self.assertEqual(close["visitors"], 4)
        # ... and what the hook itself added up from the data batches, which
        # all reach it before the tunnel's close.
        self.assertEqual((close["batched_bytes_received"], close["batched_bytes_sent"]),
                         (relayed, relayed))
        batches = stdout_events(hook, "data_batch")
        self.assertTrue(batches)
        self.assertFalse([b for b in batches if "missed_batches" in b], "no batch was lost")
        opens = stdout_events(hook, "tunnel_open")
        self.assertEqual(sorted(o["decision"] for o in opens), ["allow", "deny"])
        # Final semantics (server calls Describe): nothing but the declared
        # tunnel_open, tunnel_close and data reached the hook.
        self.assert_no_undeclared_calls(hook)


if __name__ == "__main__":
    unittest.main()
