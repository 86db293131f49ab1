"""`pip install` of hookd-sdk/python into a fresh venv, offline, exactly as
the README says, then a 20-line hook run from that venv; and the same from
an sdist built away from the repository.

    /usr/bin/python3 -m venv --system-site-packages VENV
    VENV/bin/pip install --no-build-isolation --no-deps ./hookd-sdk/python

PIP_NO_INDEX=1 makes any attempt to reach a package index fail.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import unittest

import sdk_env

import grpc
from reitunnel_hookd import pb, pb_grpc

SYSTEM_PYTHON = "/usr/bin/python3"
RPC_TIMEOUT = 10

# The hook a user would write (20 lines).
HOOK = textwrap.dedent('''\
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
        sys.exit(main(DenyByName(["admin"]), argv=sys.argv[1:], name="deny-by-name/1"))
    ''')


def run(argv, **kwargs):
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


class PipInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One venv for both tests (creating one takes seconds); each test
        # (re)installs the package into it.
        cls.venv_root = tempfile.mkdtemp(prefix="hookd-pip-venv-")
        cls.venv_dir = os.path.join(cls.venv_root, "venv")
        run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", cls.venv_dir])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.venv_root)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookd-pip-")
        self.addCleanup(shutil.rmtree, self.tmp)
        # A copy of the two parts of the repository the package is built
        # from, at the same relative places (hookd-sdk/python and proto/),
        # so the build leaves nothing in the real tree.
        self.src = os.path.join(self.tmp, "repo")
        shutil.copytree(os.path.join(sdk_env.REPO, "hookd-sdk", "python"),
                        os.path.join(self.src, "hookd-sdk", "python"),
                        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "proto",
                                                      "__pycache__"))
        shutil.copytree(os.path.join(sdk_env.REPO, "proto", "reitunnel", "hook"),
                        os.path.join(self.src, "proto", "reitunnel", "hook"))
        with open(os.path.join(self.tmp, "hook.py"), "w") as f:
            f.write(HOOK)

    def pip_install(self, what):
        run([os.path.join(self.venv_dir, "bin", "pip"), "install", "--no-build-isolation",
             "--no-deps", "--force-reinstall", what])

    def check_hook_runs(self, venv):
        python = os.path.join(venv, "bin", "python")
        # The venv's own copy, not the build tree's.
        where = run([python, "-c", "import reitunnel_hookd; print(reitunnel_hookd.__file__)"],
                    cwd=self.tmp).stdout.strip()
        self.assertTrue(where.startswith(venv), where)
        proc = subprocess.Popen([python, os.path.join(self.tmp, "hook.py"),
                                 "--listen=127.0.0.1:0"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.tmp)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        listening = json.loads(proc.stdout.readline() or "{}")
        if listening.get("event") != "listening":
            proc.kill()
            self.fail(f"the hook did not start: {proc.stderr.read()}")
        with grpc.insecure_channel(listening["address"]) as channel:
            stub = pb_grpc.HookServiceStub(channel)
            described = stub.Describe(pb.DescribeRequest(), timeout=RPC_TIMEOUT)
            self.assertEqual(list(described.events), ["tunnel_open"])
            self.assertEqual(described.name, "deny-by-name/1")
            self.assertTrue(described.sdk.startswith("reitunnel-hookd-python/"), described.sdk)
            admin = stub.OnTunnelOpen(pb.TunnelOpenRequest(tunnel_name="admin"),
                                      timeout=RPC_TIMEOUT)
            self.assertEqual((admin.decision, admin.reason),
                             (pb.DENY, "tunnel 'admin' is not allowed here"))
            web = stub.OnTunnelOpen(pb.TunnelOpenRequest(tunnel_name="web"), timeout=RPC_TIMEOUT)
            self.assertEqual(web.decision, pb.ALLOW)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(json.loads(out.splitlines()[-1])["signal"], "SIGTERM")

    def test_install_from_the_source_tree(self):
        self.pip_install(os.path.join(self.src, "hookd-sdk", "python"))
        self.check_hook_runs(self.venv_dir)

    def test_install_from_an_sdist_away_from_the_repository(self):
        package = os.path.join(self.src, "hookd-sdk", "python")
        dist = os.path.join(self.tmp, "dist")
        run([os.path.join(self.venv_dir, "bin", "python"), "-c",
             f"from setuptools import build_meta; build_meta.build_sdist({dist!r})"], cwd=package)
        [sdist] = glob.glob(os.path.join(dist, "reitunnel_hookd-*.tar.gz")) or \
            glob.glob(os.path.join(dist, "reitunnel-hookd-*.tar.gz"))
        # Nothing of the repository is left: the sdist's own proto/ copy must do.
        shutil.rmtree(self.src)
        self.pip_install(sdist)
        self.check_hook_runs(self.venv_dir)


if __name__ == "__main__":
    unittest.main()
