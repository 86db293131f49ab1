"""`reitunneld --dashboard` in a real browser (ctest: dashboard.browser).

Starts, with the integration harness (tests/integration/harness.py), a real
hook service (recording_hook.py), a real reitunneld with --dashboard on a
port picked by the kernel, a local echo service and a real reitunnel agent
with one tunnel; then runs browser/check.mjs, which drives Debian's headless
chromium through playwright-core: wrong token refused, login, agent, tunnel
and port, hook state, traffic going from zero to non-zero while it sends
visitors, the event stream, a screenshot, sign-out, and no request to any
origin but the dashboard's.

Environment (set by ctest): REITUNNEL_BIN_DIR, REITUNNEL_HOOK_STUBS,
DASHBOARD_BROWSER_DEPS (where `npm ci` installs playwright-core; default
<build>/tests/server/dashboard/browser), DASHBOARD_SCREENSHOT (default
<build>/artifacts/dashboard.png), CHROMIUM (default /usr/bin/chromium).
"""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
_IT = os.path.join(_REPO, "tests", "integration")
sys.path.insert(0, _IT)

import harness  # noqa: E402
from harness import IntegrationTest, LOOPBACK  # noqa: E402

BROWSER_SRC = os.path.join(_HERE, "browser")
RECORDING_HOOK = os.path.join(_IT, "recording_hook.py")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node") or "/usr/bin/node"
NPM = shutil.which("npm") or "/usr/bin/npm"
BUILD = os.path.dirname(harness.bin_dir())
DEPS = os.environ.get("DASHBOARD_BROWSER_DEPS") or os.path.join(
    BUILD, "tests", "server", "dashboard", "browser")
SCREENSHOT = os.environ.get("DASHBOARD_SCREENSHOT") or os.path.join(
    BUILD, "artifacts", "dashboard.png")
CHECK_TIMEOUT = 240


def stubs_dir():
    d = os.environ.get("REITUNNEL_HOOK_STUBS") or os.path.join(BUILD, "python")
    if not os.path.isfile(os.path.join(d, "reitunnel", "hook", "v1", "hook_pb2.py")):
        raise AssertionError(f"hook stubs not found in {d}: build the hookd_python_stubs target")
    return d


def ensure_playwright():
    """`npm ci` into the build tree (not the source tree) when
    node_modules is missing or the lock file changed."""
    os.makedirs(DEPS, exist_ok=True)
    installed = os.path.join(DEPS, "node_modules", "playwright-core", "package.json")
    lock_src = os.path.join(BROWSER_SRC, "package-lock.json")
    lock_dst = os.path.join(DEPS, "package-lock.json")
    if os.path.isfile(installed) and os.path.isfile(lock_dst) and filecmp.cmp(
            lock_src, lock_dst, shallow=False):
        return
    for f in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(BROWSER_SRC, f), os.path.join(DEPS, f))
    r = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=DEPS,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
    if r.returncode != 0 or not os.path.isfile(installed):
        raise AssertionError(f"npm ci in {DEPS} failed (rc={r.returncode}):\n{r.stdout}")


class DashboardBrowserTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        for path, what in ((CHROMIUM, "chromium (scripts/install-deps.sh installs it)"),
                           (NODE, "node"), (NPM, "npm")):
            if not os.access(path, os.X_OK):
                self.fail(f"{what} not found at {path}")
        ensure_playwright()

    def test_dashboard_in_chromium(self):
        hook = self.spawn(harness.Proc, "hook",
                          ["/usr/bin/python3", RECORDING_HOOK, f"--listen={LOOPBACK}:0",
                           "--name=policy"],
                          env={"REITUNNEL_HOOK_STUBS": stubs_dir(),
                               "PYTHONDONTWRITEBYTECODE": "1"})
        hook_port = hook.wait_for_event("listening")["port"]
        server = self.start_server(
            config={"hooks": [{"name": "policy", "address": f"{LOOPBACK}:{hook_port}"}],
                    "hook_settings": {"flush_interval_ms": 200}},
            extra_args=[f"--dashboard={LOOPBACK}:0"])
        dash = server.wait_for_event("dashboard_listener_ready")
        self.assertFalse(dash.get("tls"), "no admin TLS configured: plain HTTP")
        url = f"http://{dash['addr']}/"
        echo = self.start_echo()
        agent = self.start_agent(server, [("web", 0, echo.port)],
                                 extra_args=["--label=team=blue"])
        port = agent.remote_ports["web"]
        self.assertIn(port, server.port_range)
        self.assertTrue(agent.client_id, "the agent logged its client id")
        hook.wait_for_event("tunnel_open")

        if os.path.exists(SCREENSHOT):
            os.unlink(SCREENSHOT)
        expect = {"client_id": agent.client_id, "label": "team=blue", "tunnel": "web",
                  "port": port, "hook": "policy"}
        env = dict(os.environ, DASHBOARD_BROWSER_DEPS=DEPS, CHROMIUM=CHROMIUM)
        r = subprocess.run([NODE, os.path.join(BROWSER_SRC, "check.mjs"), url, self.token,
                            SCREENSHOT, json.dumps(expect)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=CHECK_TIMEOUT)
        out = r.stdout.replace(self.token, "<token>")
        sys.stderr.write(out)
        self.assertEqual(r.returncode, 0, "browser check failed (output above)")
        self.assertNotIn(self.token, r.stdout, "the browser check must not print the token")

        self.assertTrue(os.path.isfile(SCREENSHOT), SCREENSHOT)
        self.assertGreater(os.path.getsize(SCREENSHOT), 0)
        with open(SCREENSHOT, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
        # The server saw what the browser did.
        server.wait_for_event("dashboard_login_failed")
        server.wait_for_event("dashboard_login")
        server.wait_for_event("dashboard_events_recording")
        # The visitors the browser check sent really went through the tunnel:
        # the hook's data batches carry their bytes.
        def carried(ev):
            return any(t.get("tunnel_name") == "web" and int(t.get("bytes_received", 0)) > 0
                       for t in ev.get("req", {}).get("tunnels", []))
        hook.wait_for_event("data_batch", carried)


if __name__ == "__main__":
    unittest.main()
