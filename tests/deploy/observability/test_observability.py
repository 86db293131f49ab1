"""deploy/observability against promtool and a live reitunneld.

- The alert rules pass `promtool check rules` and the unit tests in
  reitunnel-alerts.test.yaml (`promtool test rules`).
- The Grafana dashboard is well-formed (ids, grid, datasource variable) and
  every query in it parses as PromQL (promtool, through a throwaway rules
  file).
- Every reitunnel_* metric the dashboard and the rules use, with the labels
  they select or group by, is exported by a live reitunneld (a hook
  configured and per-tunnel metrics on, so those families appear).
- metrics_options.per_tunnel_labels: exact per-tunnel byte counters, the
  series cap and the counters of what it cut.

Run by ctest as `deploy.observability`, or by hand:

    cd tests/deploy/observability && REITUNNEL_BIN_DIR=$PWD/../../../build/bin \\
      /usr/bin/python3 -m unittest -v test_observability
"""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(_SRC, "tests", "integration"))

import harness as h  # noqa: E402

OBS = os.path.join(_SRC, "deploy", "observability")
RULES = os.path.join(OBS, "prometheus", "reitunnel-alerts.yaml")
RULE_TESTS = os.path.join(_HERE, "reitunnel-alerts.test.yaml")
DASHBOARD = os.path.join(OBS, "grafana", "reitunnel-dashboard.json")

# Series Prometheus makes itself, not the server.
PROMETHEUS_SERIES = {"up"}
# Grafana variables, replaced by something PromQL parses.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                "$instance": ".*"}
# PromQL words that look like metric names.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "le", "inf", "nan"}


def promtool():
    path = shutil.which("promtool")
    if path is None:
        raise AssertionError("promtool not found: install Debian's prometheus package "
                             "(scripts/install-deps.sh does)")
    return path


def run_promtool(*args, cwd=None):
    p = subprocess.run([promtool(), *args], capture_output=True, text=True, cwd=cwd,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def dashboard_queries(dash):
    """(where, expr) for every query of every panel, rows included."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p.get('id')} \"{p.get('title')}\" {t.get('refId')}",
                                t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            out.append((f"variable {v['name']}", q))
    return out


def rule_exprs():
    """(where, expr) for every rule. PyYAML is Debian's python3-yaml."""
    import yaml  # noqa: PLC0415
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    return [(f"rule {r.get('alert') or r.get('record')}", r["expr"])
            for g in doc["groups"] for r in g["rules"]]


def expand(expr):
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    return expr


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_uses(expr):
    """{metric: set of label names it selects on or is grouped by} for the
    reitunnel_* metrics of `expr` (a small PromQL reader: selectors and the
    by/without clauses of the aggregations over them)."""
    uses = {}
    text = expr
    for m in re.finditer(r"\b(reitunnel_[a-zA-Z0-9_]+)\s*(\{([^}]*)\})?", text):
        labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(3) or ""))
        uses.setdefault(m.group(1), set()).update(labels)
    # Grouping labels apply to every metric inside the aggregation; checking
    # them against every metric of the expression is stricter and still
    # right for these queries (each groups over one family).
    grouped = set()
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", strip_strings(text)):
        grouped.update(x.strip() for x in m.group(1).split(",") if x.strip())
    grouped -= {"instance", "job", "le"}  # added by Prometheus / histogram buckets
    for name in uses:
        uses[name] |= grouped
    if "histogram_quantile" in text:
        for name in uses:
            uses[name].discard("le")
    return uses


def other_metric_names(expr):
    """Names in `expr` that are metric names but not reitunnel_* ones."""
    clean = strip_strings(expr)
    clean = re.sub(r"\[[^\]]*\]", "", clean)          # ranges
    clean = re.sub(r"\{[^}]*\}", "", clean)           # matchers
    # Grafana's label_values(metric, label): the second argument is a label.
    clean = re.sub(r"\blabel_values\(([^,()]*),\s*[a-zA-Z_]\w*\s*\)", r"label_values(\1)", clean)
    clean = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", clean)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", clean):
        w = m.group(1)
        if w.startswith("reitunnel_") or w.lower() in PROMQL_WORDS or re.fullmatch(r"\d.*", w):
            continue
        names.add(w)
    return names


def parse_exposition(text):
    """{sample name: set of label names}, with the families of TYPE lines
    (histograms expanded to _bucket/_sum/_count) present even when empty."""
    names = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)", line)
        if m:
            fam, kind = m.groups()
            if kind == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    names.setdefault(fam + suffix, set())
            else:
                names.setdefault(fam, set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if m:
            names.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(3) or ""))
    return names


class RulesTest(unittest.TestCase):

    def test_promtool_check_rules(self):
        rc, out = run_promtool("check", "rules", RULES)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)

    def test_promtool_unit_tests(self):
        rc, out = run_promtool("test", "rules", os.path.basename(RULE_TESTS), cwd=_HERE)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)

    def test_every_alert_has_severity_and_annotations(self):
        import yaml  # noqa: PLC0415
        with open(RULES) as f:
            doc = yaml.safe_load(f)
        alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
        self.assertGreaterEqual(len(alerts), 8)
        tested = open(RULE_TESTS).read()
        for r in alerts:
            self.assertIn(r["labels"].get("severity"), ("critical", "warning", "info"), r["alert"])
            self.assertTrue(r["annotations"].get("summary"), r["alert"])
            self.assertTrue(r["annotations"].get("description"), r["alert"])
        # The main alerts of the issue each have a unit test that fires them.
        for name in ("ReitunnelHookFailing", "ReitunnelHookFailOpen", "ReitunnelHookEventsDropped",
                     "ReitunnelAgentsGone", "ReitunnelPublicPortsNearlyExhausted",
                     "ReitunnelAuthBruteForce", "ReitunnelDataPlaneWedged"):
            self.assertRegex(tested, rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels", name)


class DashboardTest(unittest.TestCase):

    def setUp(self):
        with open(DASHBOARD) as f:
            self.dash = json.load(f)

    def test_structure(self):
        d = self.dash
        self.assertTrue(d.get("uid") and d.get("title"))
        self.assertIsInstance(d.get("schemaVersion"), int)
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        ids = set()
        cells = set()
        panels = d["panels"]
        self.assertGreaterEqual(len([p for p in panels if p["type"] != "row"]), 12)
        for p in panels:
            where = f"panel {p.get('id')} {p.get('title')}"
            self.assertNotIn(p["id"], ids, f"{where}: id used twice")
            ids.add(p["id"])
            g = p["gridPos"]
            self.assertTrue(0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, where)
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, f"{where} overlaps another panel")
                    cells.add((x, y))
            if p["type"] == "row":
                continue
            self.assertTrue(p.get("title"), where)
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${datasource}"},
                             f"{where}: use the datasource variable")
            self.assertTrue(p.get("targets"), f"{where}: no query")
            for t in p["targets"]:
                self.assertEqual(t.get("datasource"), p["datasource"], where)

    def test_queries_parse_as_promql(self):
        # promtool has no "check expression"; a rules file of recording
        # rules makes it parse each one.
        queries = dashboard_queries(self.dash)
        rules = {"groups": [{"name": "dashboard", "rules": []}]}
        for i, (where, expr) in enumerate(queries):
            if expr.startswith("label_values("):
                m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", expr)
                self.assertIsNotNone(m, where)
                expr = m.group(1)
            rules["groups"][0]["rules"].append(
                {"record": f"dashboard_check:q{i}", "expr": expand(expr)})
        path = os.path.join(self.tmpdir(), "dashboard-queries.rules.json")
        with open(path, "w") as f:
            json.dump(rules, f)  # JSON is YAML
        rc, out = run_promtool("check", "rules", path)
        self.assertEqual(rc, 0, f"a dashboard query does not parse:\n{out}")

    def tmpdir(self):
        import tempfile  # noqa: PLC0415
        d = tempfile.mkdtemp(prefix="obs-dash-")
        self.addCleanup(shutil.rmtree, d, True)
        return d


class LiveMetricsTest(h.IntegrationTest):
    """The server exports what the dashboard and the rules query."""

    def start_observed_server(self, metrics_options):
        sock = h.reserve_refusing_port()  # a hook that is down: its families still appear
        self.addCleanup(sock.close)
        self.metrics = f"{h.LOOPBACK}:{h.unused_port()}"
        config = {"hooks": [{"name": "audit", "address": f"127.0.0.1:{sock.getsockname()[1]}",
                             "events": ["tunnel_close"], "timeout_ms": 250}]}
        if metrics_options:
            config["metrics_options"] = metrics_options
        self.server = self.start_server(config=config, extra_args=[f"--metrics={self.metrics}"])
        h.wait_until(lambda: self.try_scrape() is not None, what="the metrics endpoint")

    def try_scrape(self):
        import urllib.request  # noqa: PLC0415
        try:
            with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def test_every_queried_metric_and_label_is_exported(self):
        self.start_observed_server({"per_tunnel_labels": True})
        echo = self.start_echo()
        agent = self.start_agent(self.server, [("web", 0, echo.port)])
        h.echo_roundtrip(agent.remote_ports["web"], b"x" * 100)

        def exported_with_tunnel_labels():
            names = parse_exposition(self.try_scrape() or "")
            return names if "tunnel" in names.get("reitunnel_tunnel_bytes_total", set()) else None
        exported = h.wait_until(exported_with_tunnel_labels, what="per-tunnel series")
        with open(DASHBOARD) as f:
            queries = dashboard_queries(json.load(f))
        checked = set()
        for where, expr in queries + rule_exprs():
            for name, labels in metric_uses(expr).items():
                checked.add(name)
                self.assertIn(name, exported, f"{where}: {name} is not exported by reitunneld")
                # Prometheus adds the target labels to every series it scrapes.
                missing = labels - exported[name] - {"instance", "job"}
                self.assertFalse(missing, f"{where}: {name} has no label {sorted(missing)} "
                                          f"(it has {sorted(exported[name])})")
            for other in other_metric_names(expr):
                self.assertIn(other, PROMETHEUS_SERIES, f"{where}: unknown metric {other}")
        # The check reads what the files query: it saw them all.
        for name in ("reitunnel_hook_calls_total", "reitunnel_hook_latency_seconds_bucket",
                     "reitunnel_public_ports_capacity", "reitunnel_data_plane_healthy",
                     "reitunnel_auth_throttled_total", "reitunnel_tunnel_bytes_total"):
            self.assertIn(name, checked)

    def test_per_tunnel_metrics_exact_capped_and_counted(self):
        self.start_observed_server({"per_tunnel_labels": True, "max_series": 2})
        echo = self.start_echo()
        # Opened one after the other, so "longest open" is a, then b.
        agent = self.start_agent(self.server, [("a", 0, echo.port)], name="agent-a")
        agent_b = self.start_agent(self.server, [("b", 0, echo.port)], name="agent-b")
        agent_c = self.start_agent(self.server, [("c", 0, echo.port)], name="agent-c")
        sent = 0
        for n in (70_000, 1_234):
            payload = os.urandom(n)
            self.assertEqual(h.echo_roundtrip(agent.remote_ports["a"], payload), payload)
            sent += n
        client = "127.0.0.1"  # no --agent-id: the agent's IP address

        def counted():
            s = h.scrape_metrics(self.metrics)
            key = f'reitunnel_tunnel_bytes_total{{client="{client}",direction="%s",tunnel="a"}}'
            return s if (s.get(key % "in"), s.get(key % "out")) == (sent, sent) else None
        s = h.wait_until(counted, what=f"tunnel a's counters to reach {sent}/{sent}")
        self.assertEqual(
            s.get(f'reitunnel_tunnel_bytes_total{{client="{client}",direction="in",tunnel="b"}}'),
            0)
        self.assertNotIn(
            f'reitunnel_tunnel_bytes_total{{client="{client}",direction="in",tunnel="c"}}', s)
        self.assertEqual(s["reitunnel_tunnel_series_excluded"], 1)
        self.assertEqual(s["reitunnel_tunnel_series_dropped_total"], 1)
        # Scraped again: the same tunnel is not counted twice.
        s = h.scrape_metrics(self.metrics)
        self.assertEqual(s["reitunnel_tunnel_series_dropped_total"], 1)
        # When a goes, c gets its place.
        agent.terminate()
        agent.wait_exit()
        key_c = f'reitunnel_tunnel_visitor_connections{{client="{client}",tunnel="c"}}'
        s = h.wait_until(lambda: (lambda m: m if key_c in m else None)(
            h.scrape_metrics(self.metrics)), what="tunnel c to get its series")
        self.assertEqual(s["reitunnel_tunnel_series_excluded"], 0)
        self.assertEqual(s["reitunnel_tunnel_series_dropped_total"], 1)
        self.assert_alive(agent_b)
        self.assert_alive(agent_c)

    def test_per_tunnel_metrics_are_off_by_default(self):
        self.start_observed_server(None)
        echo = self.start_echo()
        self.start_agent(self.server, [("web", 0, echo.port)])
        names = parse_exposition(self.try_scrape())
        self.assertIn("reitunnel_tunnels", names)
        self.assertFalse([n for n in names if n.startswith("reitunnel_tunnel_")], names)


if __name__ == "__main__":
    unittest.main()
