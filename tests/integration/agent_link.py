"""How the agent reaches the server in an integration test: the link.

ctest runs the relay and recovery modules once per link
(REITUNNEL_TEST_LINK), so every relay scenario also runs over WebSocket,
over TLS WebSocket, through Debian's tinyproxy (HTTP CONNECT) and through
nginx as a WebSocket reverse proxy (the ingress shape: nginx terminates TLS
for wss-nginx). `tcp` (the default) is the plain agent listener.

  link            agent --server            in between            server
  tcp             HOST:PORT                 -                     --listen
  ws              ws://HOST:WS/reitunnel    -                     --ws-listen
  wss             wss://HOST:WS/reitunnel   -                     --ws-listen + TLS
  ws-tinyproxy    ws://...                  tinyproxy (CONNECT)   --ws-listen
  wss-tinyproxy   wss://...                 tinyproxy (CONNECT)   --ws-listen + TLS
  ws-nginx        ws://NGINX/reitunnel      nginx (Upgrade)       --ws-listen
  wss-nginx       wss://NGINX/reitunnel     nginx (TLS, Upgrade)  --ws-listen

The helpers (tinyproxy, nginx) are ordinary processes of the test: started
on demand, killed at cleanup, restartable on their port (reconnect tests).
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time

LINKS = ("tcp", "ws", "wss", "ws-tinyproxy", "wss-tinyproxy", "ws-nginx", "wss-nginx")
WS_PATH = "/reitunnel"


def _find(*candidates):
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    return None


def tinyproxy_binary():
    return _find("/usr/bin/tinyproxy", "/usr/sbin/tinyproxy")


def nginx_binary():
    return _find("/usr/sbin/nginx", "/usr/bin/nginx")


_PKI_DIR = None


def test_pki():
    """A CA and a server certificate for 127.0.0.1/localhost, made once per
    process (EC keys: fast) and shared by the tests of a module."""
    global _PKI_DIR
    if _PKI_DIR is None:
        d = tempfile.mkdtemp(prefix="reitunnel-link-pki-")

        def run(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("req", "-x509", *ec, "-keyout", "ca.key", "-subj", "/CN=link-ca", "-days", "2",
            "-out", "ca.pem")
        run("req", *ec, "-keyout", "server.key", "-subj", "/CN=localhost", "-out", "server.csr")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext")
        _PKI_DIR = d
        atexit.register(shutil.rmtree, d, True)
    return lambda name: os.path.join(_PKI_DIR, name)


def _accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Link:
    """The link of one test. `harness` is the harness module (passed in to
    avoid an import cycle), `test` the IntegrationTest."""

    def __init__(self, harness, test, name):
        if name not in LINKS:
            raise AssertionError(f"REITUNNEL_TEST_LINK={name!r}: expected one of {LINKS}")
        self.h = harness
        self.test = test
        self.name = name
        self.websocket = name != "tcp"
        self.tls = name.startswith("wss")
        self.via = name.split("-", 1)[1] if "-" in name else None
        self._tinyproxy = None  # (proc, port)
        self._nginx = {}        # backend "host:port" -> (proc, port, conf dir)

    # -- server side -----------------------------------------------------------

    def server_args(self, ws_port=0):
        """Flags reitunneld needs for this link."""
        if not self.websocket:
            return []
        args = [f"--ws-listen={self.h.LOOPBACK}:{ws_port}"]
        # nginx terminates TLS itself (ingress shape); the others carry TLS
        # end to end to the server.
        if self.tls and self.via != "nginx":
            p = test_pki()
            args += [f"--tls-cert={p('server.pem')}", f"--tls-key={p('server.key')}"]
        return args

    # -- agent side --------------------------------------------------------------

    def agent_address(self, agent_port, ws_port, host=None):
        """The --server value for an agent, starting the proxy in between if
        the link has one. host: the name the agent dials (default loopback)."""
        host = host or self.h.LOOPBACK
        if not self.websocket:
            return f"{host}:{agent_port}"
        scheme = "wss" if self.tls else "ws"
        if self.via == "nginx":
            port = self.nginx(f"{self.h.LOOPBACK}:{ws_port}")
            return f"{scheme}://{host}:{port}{WS_PATH}"
        return f"{scheme}://{host}:{ws_port}{WS_PATH}"

    def agent_args(self):
        args = []
        if self.tls:
            args.append(f"--tls-ca={test_pki()('ca.pem')}")
        if self.via == "tinyproxy":
            args.append(f"--proxy=http://{self.h.LOOPBACK}:{self.tinyproxy()}")
        return args

    # -- helpers in between ------------------------------------------------------

    def tinyproxy(self, port=None):
        """Starts tinyproxy (once per test, or again on `port` after
        kill_proxy) and returns its port."""
        if self._tinyproxy is not None and self._tinyproxy[0].alive():
            return self._tinyproxy[1]
        binary = tinyproxy_binary()
        if binary is None:
            raise AssertionError("tinyproxy is not installed (scripts/install-deps.sh installs it)")
        for _ in range(20):
            p = port or self.h.unused_port()
            conf = self.test.write_file(f"tinyproxy-{p}.conf",
                                        f"Port {p}\nListen 127.0.0.1\nTimeout 600\n"
                                        "MaxClients 2000\nAllow 127.0.0.1\nLogLevel Notice\n")
            proc = self.test.spawn(self.h.Proc, "tinyproxy", [binary, "-d", "-c", conf])
            if _wait_listening(proc, p):
                self._tinyproxy = (proc, p)
                return p
            proc.kill()
            if port:
                break
        raise AssertionError(f"tinyproxy did not start:\n{proc.describe(30)}")

    def nginx(self, backend, port=None):
        """Starts nginx as a WebSocket reverse proxy for `backend` (once per
        backend, or again on `port` after kill_proxy); returns its port."""
        cur = self._nginx.get(backend)
        if cur is not None and cur[0].alive():
            return cur[1]
        ssl = ""
        if self.tls:
            pki = test_pki()
            ssl = (f" ssl;\n    ssl_certificate {pki('server.pem')};\n"
                   f"    ssl_certificate_key {pki('server.key')}")

        def server_block(p, _dir):
            return f"""  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{p}{ssl};
    location {WS_PATH} {{
      proxy_pass http://{backend};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_buffering off;
    }}
  }}
"""
        proc, p, d = spawn_nginx(self.h, self.test, server_block, port)
        self._nginx[backend] = (proc, p, d)
        return p

    def proxy_proc(self):
        """The process in between (tinyproxy or nginx), if any."""
        if self.via == "tinyproxy" and self._tinyproxy:
            return self._tinyproxy[0]
        if self.via == "nginx" and self._nginx:
            return next(iter(self._nginx.values()))[0]
        return None

    def restart_proxy(self):
        """Kills the process in between (every link through it drops) and
        starts it again on the same port."""
        if self.via == "tinyproxy":
            proc, port = self._tinyproxy
            proc.kill()
            self.h.wait_until(lambda: self.h.can_bind(port), what=f"tinyproxy port {port} free")
            self.tinyproxy(port)
        elif self.via == "nginx":
            backend, (proc, port, _) = next(iter(self._nginx.items()))
            proc.kill()
            self.h.wait_until(lambda: self.h.can_bind(port), what=f"nginx port {port} free")
            self.nginx(backend, port)
        else:
            raise AssertionError(f"link {self.name} has nothing in between")


def _wait_listening(proc, port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            return False  # could not bind (port taken): the caller retries
        if _accepts(port):
            return True
        time.sleep(0.02)
    return False


def spawn_nginx(harness, test, http_body, port=None):
    """Runs Debian's nginx in the foreground as a process of `test`, its
    files in the test's temp dir. http_body(port) gives the http{} content
    (server blocks) for the port it listens on and its directory. Returns (proc, port, dir);
    the access log, if http_body writes one, is in dir."""
    binary = nginx_binary()
    if binary is None:
        raise AssertionError("nginx is not installed (scripts/install-deps.sh installs it)")
    proc = None
    for _ in range(20):
        p = port or harness.unused_port()
        d = os.path.join(test.tmp, f"nginx-{p}")
        os.makedirs(d, exist_ok=True)
        temp = "".join(f"  {k}_temp_path {d}/{k};\n"
                       for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""worker_processes 1;
worker_rlimit_nofile 8192;
error_log {d}/error.log notice;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp}{http_body(p, d)}}}
""")
        globals_ = f"daemon off; master_process off; pid {d}/nginx.pid;"
        proc = test.spawn(harness.Proc, "nginx", [binary, "-e", f"{d}/error.log", "-p", d,
                                                  "-c", f"{d}/nginx.conf", "-g", globals_])
        if _wait_listening(proc, p):
            return proc, p, d
        proc.kill()
        if port:
            break
    raise AssertionError(f"nginx did not start:\n{proc.describe(30) if proc else ''}")
