// Reitunnel dashboard. Vanilla JS, no dependencies: polls the JSON API
// (/api/v1/overview, /api/v1/events) once per second while the tab is
// visible, draws the charts on <canvas>, and builds every table with DOM
// APIs (textContent only: nothing the server reports is parsed as HTML).
"use strict";

(() => {
  const POLL_MS = 1000;
  const SPARK_POINTS = 60;
  const MAX_EVENTS_SHOWN = 200;

  const $ = (id) => document.getElementById(id);
  const state = {
    csrf: "",
    method: "",
    lastSeq: 0,
    events: [],
    sparks: new Map(), // tunnel id -> [{in, out}]
    timer: 0,
    polling: false,
    overview: null,
  };

  // ---------------------------------------------------------------- format
  const num = (v) => (v === undefined || v === null || v === "" ? 0 : Number(v));
  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function bytes(v) {
    let n = num(v);
    let u = 0;
    while (n >= 1024 && u < UNITS.length - 1) {
      n /= 1024;
      u++;
    }
    return (u === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + UNITS[u];
  }
  const rate = (v) => bytes(v) + "/s";
  const count = (v) => num(v).toLocaleString("en-US");
  function duration(seconds) {
    let s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }
  const tsMillis = (ts) => (ts ? Date.parse(ts) : NaN);
  const ago = (ts) => {
    const t = tsMillis(ts);
    return Number.isNaN(t) ? "" : duration((Date.now() - t) / 1000) + " ago";
  };
  const clock = (ts) => {
    const d = new Date(tsMillis(ts));
    return Number.isNaN(d.getTime()) ? "" : d.toTimeString().slice(0, 8);
  };
  const shortId = (id) => (id && id.length > 12 ? id.slice(0, 8) + "…" : id || "");

  // Builds an element: el("td", {class: "num"}, "text", child, ...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "title") e.title = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function fillBody(table, rows) {
    const body = table.tBodies[0];
    body.replaceChildren(...rows);
  }

  // ------------------------------------------------------------------- api
  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (options.method === "POST" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const res = await fetch(path, { credentials: "same-origin", cache: "no-store", ...options, headers });
    if (res.status === 204) return null;
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    if (!res.ok) throw new HttpError(res.status, (body && body.error) || res.statusText);
    return body;
  }

  // ----------------------------------------------------------------- login
  function showLogin(message) {
    stopPolling();
    $("app").hidden = true;
    $("login").hidden = false;
    const err = $("login-error");
    err.hidden = !message;
    err.textContent = message || "";
    $("token").focus();
  }

  function showApp(session) {
    state.csrf = session.csrf_token || "";
    state.method = session.method || "";
    $("login").hidden = true;
    $("app").hidden = false;
    const how = {
      cookie: "signed in with the admin token",
      bearer: "bearer token",
      client_certificate: "client certificate " + (session.subject || ""),
    }[state.method] || "";
    const until = session.expires_at && state.method === "cookie" ? ` · until ${clock(session.expires_at)}` : "";
    $("session-method").textContent = how + until;
    $("logout").hidden = state.method !== "cookie";
    startPolling();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const input = $("token");
    const button = $("login-button");
    button.disabled = true;
    try {
      const session = await api("/api/v1/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: input.value }),
      });
      input.value = "";
      showApp(session);
    } catch (e) {
      input.select();
      showLogin(e.status === 401 ? "Wrong token." : e.message);
    } finally {
      button.disabled = false;
    }
  }

  async function onLogout() {
    try {
      await api("/api/v1/logout", { method: "POST" });
    } catch (_) {
      // The session is gone either way for this page.
    }
    state.csrf = "";
    showLogin("");
  }

  // --------------------------------------------------------------- polling
  function startPolling() {
    stopPolling();
    state.polling = true;
    tick();
  }
  function stopPolling() {
    state.polling = false;
    clearTimeout(state.timer);
  }
  async function tick() {
    if (!state.polling) return;
    if (!document.hidden) {
      try {
        const [overview, events] = await Promise.all([
          api("/api/v1/overview"),
          api("/api/v1/events?after=" + state.lastSeq),
        ]);
        render(overview);
        addEvents(events);
        setStatus(`updated ${new Date().toTimeString().slice(0, 8)}`, false);
      } catch (e) {
        if (e.status === 401) {
          showLogin("Your session ended. Sign in again.");
          return;
        }
        setStatus("cannot reach the server: " + e.message, true);
      }
    }
    state.timer = setTimeout(tick, POLL_MS);
  }
  function setStatus(text, bad) {
    const s = $("status-line");
    s.textContent = text;
    s.classList.toggle("bad", bad);
  }

  // ---------------------------------------------------------------- render
  function render(o) {
    state.overview = o;
    const s = o.server || {};
    const health = $("health");
    if (s.draining) {
      health.className = "pill warn";
      health.textContent = "draining";
    } else if (!s.data_plane_healthy) {
      health.className = "pill bad";
      health.textContent = "data plane stalled";
    } else {
      health.className = "pill ok";
      health.textContent = "healthy";
    }
    $("server-version").replaceChildren("v", el("b", {}, s.version || "?"));
    $("server-listen").replaceChildren("agents on ", el("b", {}, s.listen_addr || "—"), s.tls ? " (TLS)" : "");
    $("server-uptime").replaceChildren("up ", el("b", {}, duration(num(s.uptime_seconds))), ` · ${s.workers} workers · ports ${s.public_ports}`);

    const traffic = o.traffic || [];
    const last = traffic.length ? traffic[traffic.length - 1] : {};
    $("stat-agents").textContent = count(s.clients);
    $("stat-tunnels").textContent = count(s.tunnels);
    $("stat-visitors").textContent = count(s.active_visitors);
    $("stat-in-rate").textContent = rate(last.in_bytes_per_second);
    $("stat-out-rate").textContent = rate(last.out_bytes_per_second);
    $("stat-in-total").textContent = bytes(s.bytes_in) + " total";
    $("stat-out-total").textContent = bytes(s.bytes_out) + " total";
    const hooks = (o.hooks && o.hooks.hooks) || [];
    const ready = hooks.filter((h) => h.state === "ready").length;
    $("stat-hooks").textContent = hooks.length ? `${ready}/${hooks.length}` : "0";
    $("stat-hooks-sub").textContent = hooks.length ? "ready" : "none configured";

    renderTunnels(o);
    renderAgents(o);
    renderHooks(o);
    renderBans(o);
    $("config-yaml").textContent = s.config_yaml || "";
    drawTraffic(traffic, num(o.sample_period_ms) || 1000);
  }

  function renderTunnels(o) {
    const rates = new Map((o.rates || []).map((r) => [r.tunnel_id, r]));
    const extras = new Map((o.tunnel_extras || []).map((x) => [x.tunnel_id, x]));
    const agents = new Map((o.clients || []).map((c) => [c.client_id, c]));
    const tunnels = o.tunnels || [];
    const seen = new Set();
    const rows = tunnels.map((t) => {
      const r = rates.get(t.tunnel_id) || {};
      const x = extras.get(t.tunnel_id) || {};
      const agent = agents.get(t.client_id);
      const open = t.state === "open";
      if (open) {
        seen.add(t.tunnel_id);
        let points = state.sparks.get(t.tunnel_id);
        if (!points) state.sparks.set(t.tunnel_id, (points = []));
        points.push({ in: num(r.in_bytes_per_second), out: num(r.out_bytes_per_second) });
        if (points.length > SPARK_POINTS) points.shift();
      }
      const kind = t.kind || "tcp";
      const pub = x.hostname
        ? el("span", {}, el("span", { class: "strong" }, x.hostname))
        : el("span", { class: "mono strong" }, open ? ":" + t.remote_port : t.requested_port ? ":" + t.requested_port : "any");
      const pubSub = x.public_addr && !x.hostname ? null : x.public_addr ? el("div", { class: "sub mono" }, x.public_addr) : null;
      const stateCell = open
        ? el("span", { class: "pill ok" }, "open")
        : el("span", { class: "pill " + (t.state === "refused" ? "bad" : "warn"), title: t.last_error || "" }, t.state);
      const spark = el("canvas", { class: "spark", width: 120, height: 26 });
      const row = el(
        "tr",
        { "data-tunnel-id": t.tunnel_id || "", "data-name": t.name },
        el("td", {}, el("span", { class: "strong" }, t.name), el("div", { class: "sub mono" }, shortId(t.tunnel_id))),
        el("td", {}, el("span", { class: "kind " + kind }, kind)),
        el("td", { class: "public" }, pub, pubSub),
        el("td", { class: "mono", title: t.client_id }, agent && agent.agent_id ? agent.agent_id : shortId(t.client_id)),
        el("td", { class: "mono" }, t.local_addr),
        el("td", {}, stateCell, !open && t.last_error ? el("div", { class: "sub bad-text" }, t.last_error) : null),
        el("td", { class: "num" }, count(t.active_visitors), el("span", { class: "sub" }, " / " + count(t.visitors_total))),
        el("td", { class: "num rate-in" }, open ? rate(r.in_bytes_per_second) : "—"),
        el("td", { class: "num rate-out" }, open ? rate(r.out_bytes_per_second) : "—"),
        el("td", { class: "num bytes-in", "data-bytes": num(t.bytes_in) }, bytes(t.bytes_in)),
        el("td", { class: "num bytes-out", "data-bytes": num(t.bytes_out) }, bytes(t.bytes_out)),
        el("td", {}, open ? spark : null),
      );
      if (open) requestAnimationFrame(() => drawSpark(spark, state.sparks.get(t.tunnel_id)));
      return row;
    });
    for (const id of state.sparks.keys()) if (!seen.has(id)) state.sparks.delete(id);
    fillBody($("tunnels-table"), rows);
    $("tunnels-empty").hidden = rows.length > 0;
    const notOpen = tunnels.filter((t) => t.state !== "open").length;
    $("tunnels-count").textContent = `${count(o.server.tunnels)} open` + (notOpen ? ` · ${notOpen} not open` : "");
  }

  function renderAgents(o) {
    const clients = o.clients || [];
    const rows = clients.map((c) => {
      const labels = Object.entries(c.labels || {}).map(([k, v]) => el("span", { class: "label" }, `${k}=${v}`));
      return el(
        "tr",
        { "data-client-id": c.client_id },
        el("td", {}, el("span", { class: "strong" }, c.agent_id || shortId(c.client_id)), el("div", { class: "sub mono" }, c.agent_id ? shortId(c.client_id) : c.identity)),
        el("td", { class: "mono" }, c.remote_addr),
        el("td", { class: "mono" }, c.agent_version),
        el("td", {}, ...(labels.length ? labels : [el("span", { class: "sub" }, "—")])),
        el("td", { title: c.connected_at }, ago(c.connected_at)),
        el("td", { class: "num" }, count((c.tunnel_ids || []).length)),
        el("td", { class: "num" }, count(c.active_visitors)),
        el("td", { class: "num" }, bytes(c.bytes_in)),
        el("td", { class: "num" }, bytes(c.bytes_out)),
      );
    });
    fillBody($("agents-table"), rows);
    $("agents-empty").hidden = rows.length > 0;
    $("agents-count").textContent = `${count(o.server.clients)} connected`;
  }

  function renderHooks(o) {
    const hooks = (o.hooks && o.hooks.hooks) || [];
    const rows = hooks.map((h) => {
      const cls = { ready: "ok", connecting: "warn", failing: "bad", idle: "idle" }[h.state] || "idle";
      const dropped = num(h.dropped_events) + num(h.dropped_batches);
      return el(
        "tr",
        { "data-hook": h.name },
        el("td", {}, el("span", { class: "strong" }, h.name), el("div", { class: "sub mono" }, h.address)),
        el("td", {}, el("span", { class: "pill " + cls }, h.state)),
        el("td", { class: "mono" }, (h.failure_policy || "").replace("fail_", "fail-"), el("div", { class: "sub" }, `${h.timeout_ms} ms`)),
        el("td", { class: "num" }, count(h.calls)),
        el("td", { class: "num" }, count(h.allowed)),
        el("td", { class: "num" + (num(h.denied) ? " strong" : "") }, count(h.denied)),
        el("td", { class: "num" + (num(h.errors) + num(h.timeouts) ? " bad-text" : "") }, count(num(h.errors)), num(h.timeouts) ? el("div", { class: "sub" }, `${count(h.timeouts)} timeouts`) : null, num(h.fail_open_allowances) ? el("div", { class: "sub" }, `${count(h.fail_open_allowances)} fail-open`) : null),
        el("td", { class: "num" }, `${num(h.latency_p50_ms).toFixed(1)} ms`),
        el("td", { class: "num" }, `${num(h.latency_p99_ms).toFixed(1)} ms`),
        el("td", { class: "num" }, count(h.queue_depth)),
        el("td", { class: "num" + (dropped ? " bad-text" : "") }, count(dropped)),
      );
    });
    fillBody($("hooks-table"), rows);
    $("hooks-empty").hidden = rows.length > 0;
    $("hooks-strategy").textContent = hooks.length ? (o.hooks.strategy || "").replaceAll("_", " ") : "";
  }

  function renderBans(o) {
    const bans = o.bans || [];
    const rows = bans.map((b) =>
      el("tr", {}, el("td", { class: "mono" }, b.identity), el("td", {}, b.tunnel_name || "all"), el("td", {}, b.reason), el("td", { title: b.until }, clock(b.until))),
    );
    fillBody($("bans-table"), rows);
    $("bans-empty").hidden = rows.length > 0;
    $("bans-count").textContent = bans.length ? `${bans.length} in force` : "";
  }

  // ---------------------------------------------------------------- events
  function describeEvent(e) {
    const p = e.client_connect || e.client_disconnect || e.tunnel_open || e.tunnel_close || e.visitor_connect || e.visitor_disconnect || e.error || e.server_stop || {};
    const md = p.metadata || {};
    const agent = md.agent_id || shortId(e.client_id);
    switch (e.type) {
      case "client_connect":
        return [`agent ${agent} from ${md.remote_addr || "?"}`, md.agent_version ? `v${md.agent_version}` : ""];
      case "client_disconnect":
        return [`agent ${agent} left`, p.reason || ""];
      case "tunnel_open":
        return [`${md.tunnel_name || "tunnel"} on :${md.remote_port || "?"} → ${md.local_addr || "?"}`, `agent ${agent}`];
      case "tunnel_close":
        return [`${md.tunnel_name || shortId(e.tunnel_id)} closed`, `${bytes(p.bytes_received)} in · ${bytes(p.bytes_sent)} out`];
      case "visitor_connect":
        return [`${p.visitor_addr || "visitor"} → ${md.tunnel_name || shortId(e.tunnel_id)}`, ""];
      case "visitor_disconnect":
        return [`${p.visitor_addr || "visitor"} left ${md.tunnel_name || shortId(e.tunnel_id)}`, `${bytes(p.bytes_received)} in · ${bytes(p.bytes_sent)} out · ${num(p.duration_ms)} ms`];
      case "error":
        return [p.message || "error", p.component || ""];
      case "server_stop":
        return ["server stopping", ""];
      default:
        return [e.type, ""];
    }
  }

  function eventClass(e) {
    const blocking = ["client_connect", "tunnel_open", "visitor_connect"].includes(e.type);
    if (blocking && !e.allowed) return "denied";
    if (e.type === "error") return "error";
    if (e.type.startsWith("visitor")) return "visitor";
    if (e.type.endsWith("connect") && !e.type.endsWith("disconnect")) return "connect";
    if (e.type.endsWith("open")) return "open";
    return "close";
  }

  function addEvents(res) {
    if (!res) return;
    const recording = res.recording_since ? `recording since ${clock(res.recording_since)}` : "not recording";
    $("events-note").textContent = recording + (res.truncated ? " · older events dropped" : "");
    const last = num(res.last_seq);
    if (last < state.lastSeq) state.events = []; // the server restarted
    const fresh = res.events || [];
    for (const r of fresh) state.events.push({ seq: num(r.seq), event: r.event, fresh: true });
    if (state.events.length > MAX_EVENTS_SHOWN) state.events.splice(0, state.events.length - MAX_EVENTS_SHOWN);
    state.lastSeq = last;
    renderEvents();
  }

  function renderEvents() {
    const showVisitors = $("show-visitors").checked;
    const items = [];
    for (let i = state.events.length - 1; i >= 0; i--) {
      const r = state.events[i];
      const e = r.event;
      if (!showVisitors && e.type.startsWith("visitor")) continue;
      const cls = eventClass(e);
      const [text, sub] = describeEvent(e);
      const label = cls === "denied" ? e.type.replace("_", " ") + " denied" : e.type.replace("_", " ");
      const li = el(
        "li",
        { "data-type": e.type, class: r.fresh ? "fresh" : "" },
        el("time", { title: e.time }, clock(e.time)),
        el("span", { class: "ev-type " + cls }, label),
        el("span", { class: "ev-text", title: !e.allowed && e.reason ? e.reason : "" }, text, sub ? el("span", { class: "sub" }, sub) : null, !e.allowed && e.reason ? el("span", { class: "sub bad-text" }, e.reason) : null),
      );
      r.fresh = false;
      items.push(li);
    }
    $("events").replaceChildren(...items);
    $("events-empty").hidden = items.length > 0;
  }

  // ---------------------------------------------------------------- charts
  function setupCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h };
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function niceBytesMax(v) {
    if (v <= 0) return 1024;
    let unit = 1;
    while (v / unit >= 1024) unit *= 1024;
    return niceMax(v / unit) * unit;
  }

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // A time-series chart: series = [{values, color}], x from the samples' times.
  function lineChart(canvas, times, series, yMax, yLabel) {
    const { ctx, w, h } = setupCanvas(canvas);
    ctx.font = `11px ${css("--mono")}`;
    // The y axis is as wide as its widest label ("100 KiB/s" does not fit
    // a fixed gutter).
    let labelWidth = 0;
    for (let i = 0; i <= 4; i++) labelWidth = Math.max(labelWidth, ctx.measureText(yLabel((yMax * i) / 4)).width);
    const pad = { l: Math.max(40, Math.ceil(labelWidth) + 14), r: 12, t: 10, b: 22 };
    const cw = w - pad.l - pad.r;
    const ch = h - pad.t - pad.b;
    const now = Date.now();
    const span = 10 * 60 * 1000;
    const x = (t) => pad.l + cw * (1 - (now - t) / span);
    const y = (v) => pad.t + ch * (1 - v / yMax);

    ctx.textBaseline = "middle";
    ctx.strokeStyle = css("--border");
    ctx.fillStyle = css("--faint");
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      ctx.textAlign = "right";
      ctx.fillText(yLabel(v), pad.l - 8, yy);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let m = 10; m >= 0; m -= 2) {
      const xx = x(now - m * 60000);
      ctx.fillText(m === 0 ? "now" : `-${m}m`, Math.min(Math.max(xx, pad.l + 12), w - pad.r - 14), h - pad.b + 6);
    }
    if (times.length < 2) {
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("collecting samples…", pad.l + cw / 2, pad.t + ch / 2);
      return;
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.l, pad.t, cw, ch);
    ctx.clip();
    for (const s of series) {
      ctx.beginPath();
      times.forEach((t, i) => {
        const px = x(t);
        const py = y(Math.min(s.values[i], yMax));
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.lineJoin = "round";
      ctx.stroke();
      ctx.lineTo(x(times[times.length - 1]), y(0));
      ctx.lineTo(x(times[0]), y(0));
      ctx.closePath();
      const grad = ctx.createLinearGradient(0, pad.t, 0, pad.t + ch);
      grad.addColorStop(0, s.color + "55");
      grad.addColorStop(1, s.color + "00");
      ctx.fillStyle = grad;
      ctx.fill();
    }
    ctx.restore();
  }

  function drawTraffic(samples) {
    const times = samples.map((s) => tsMillis(s.time));
    const ins = samples.map((s) => num(s.in_bytes_per_second));
    const outs = samples.map((s) => num(s.out_bytes_per_second));
    const top = niceBytesMax(Math.max(0, ...ins, ...outs) * 1.1);
    lineChart($("chart-traffic"), times, [
      { values: ins, color: css("--in") },
      { values: outs, color: css("--out") },
    ], top, (v) => rate(v));
    const visitors = samples.map((s) => num(s.active_visitors));
    const agents = samples.map((s) => num(s.clients));
    const cmax = niceMax(Math.max(1, ...visitors, ...agents) * 1.1);
    lineChart($("chart-connections"), times, [
      { values: visitors, color: css("--visitors") },
      { values: agents, color: css("--agents") },
    ], cmax, (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)));
  }

  function drawSpark(canvas, points) {
    if (!canvas.isConnected || !points) return;
    const { ctx, w, h } = setupCanvas(canvas);
    const top = Math.max(1, ...points.map((p) => Math.max(p.in, p.out)));
    const step = w / (SPARK_POINTS - 1);
    const offset = SPARK_POINTS - points.length;
    for (const [key, color] of [["in", css("--in")], ["out", css("--out")]]) {
      ctx.beginPath();
      points.forEach((p, i) => {
        const px = (offset + i) * step;
        const py = h - 2 - (h - 4) * (p[key] / top);
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
  }

  // ------------------------------------------------------------------ boot
  async function boot() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("show-visitors").addEventListener("change", renderEvents);
    window.addEventListener("resize", () => state.overview && drawTraffic(state.overview.traffic || []));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && state.polling) {
        clearTimeout(state.timer);
        tick();
      }
    });
    try {
      const session = await api("/api/v1/session");
      if (session && session.authenticated) showApp(session);
      else showLogin("");
    } catch (e) {
      showLogin("Cannot reach the server: " + e.message);
    }
  }
  document.addEventListener("DOMContentLoaded", boot);
})();
