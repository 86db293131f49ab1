#!/usr/bin/env node
'use strict';
// deploy.manifests: validates deploy/ (Kubernetes manifests and Dockerfiles).
//
//   node tests/deploy/check.js --source-dir=. --work-dir=build/tests/deploy \
//       --node-dir=build/deploy-node [--bin-dir=build/bin ...] [--kubectl=kubectl]
//
// 1. Renders every overlay (deploy/kubernetes/overlays/*) and every component
//    (on top of the dev overlay) with `kubectl kustomize`.
// 2. Validates each object against the Kubernetes schemas (kubernetes-models;
//    ServiceMonitor with @kubernetes-models/prometheus-operator), rejects
//    unknown fields, and applies the API server's own rules the schemas miss
//    (names, port names, selector vs template labels, ...).
// 3. Project checks: probes, resources and security context on every
//    container; ports, probe targets and Services agree with the server config;
//    hook addresses point at headless Services; NetworkPolicies, PDBs,
//    termination grace vs drain_ms, images, Secrets and mounted files.
// 4. Live checks, when the binaries are built (--bin-dir or REITUNNEL_BIN_DIR,
//    colon-separated): the rendered server.yaml starts the real reitunneld
//    (hook addresses pointed at a closed loopback port, TLS files replaced by
//    a throwaway certificate) which must log agent_listener_ready and exit 0 on
//    SIGTERM; each hook container's command line starts the real hook binary.
// 5. Lints deploy/docker (lib/dockerfile.js).
// 6. Negative self-checks: everything in tests/deploy/fixtures must be
//    rejected, with the error named in its "# expect:" line.
// Exits 1 on any error.

const fs = require('fs');
const path = require('path');
const os = require('os');
const net = require('net');
const cp = require('child_process');
const { createRequire } = require('module');
const K = require('./lib/k8s');
const { StrictFields } = require('./lib/strict_fields');
const { lintDockerfiles } = require('./lib/dockerfile');

// ---------------------------------------------------------------- arguments
const opts = { binDirs: [] };
for (const a of process.argv.slice(2)) {
  const m = /^--([\w-]+)=(.*)$/.exec(a);
  if (!m) { console.error(`check.js: unexpected argument ${a}`); process.exit(2); }
  if (m[1] === 'bin-dir') opts.binDirs.push(path.resolve(m[2]));
  else opts[m[1].replace(/-(\w)/g, (_, c) => c.toUpperCase())] = m[2];
}
if (process.env.REITUNNEL_BIN_DIR) opts.binDirs.unshift(...process.env.REITUNNEL_BIN_DIR.split(':').filter(Boolean).map((d) => path.resolve(d)));
const SRC = path.resolve(opts.sourceDir || path.join(__dirname, '..', '..'));
const WORK = path.resolve(opts.workDir || fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-check-')));
const NODE_DIR = path.resolve(opts.nodeDir || path.join(WORK, 'node'));
const KUBECTL = opts.kubectl || 'kubectl';
const K8S_DIR = path.join(SRC, 'deploy', 'kubernetes');
const FIXTURES = path.join(__dirname, 'fixtures');
fs.mkdirSync(WORK, { recursive: true });

// Programs of the product contract that may not have a CMake target yet.
const PENDING_PROGRAMS = new Set(['reitunnelctl']);
const SERVER_IMAGE = 'reitunneld';
const HOOKS_IMAGE = 'reitunnel-hooks';
const HOOK_EVENTS = ['server_start', 'server_stop', 'client_connect', 'client_disconnect', 'tunnel_open',
  'tunnel_close', 'data', 'error', 'visitor_connect', 'visitor_disconnect'];
const DEFAULT_DRAIN_MS = 10000;
const STOP_MARGIN_MS = 2000; // after the drain: tell agents, notify hooks, exit

// ---------------------------------------------------------------- reporting
class Report {
  constructor(quiet) { this.errors = []; this.notes = []; this.quiet = quiet; }
  error(where, msg) { this.errors.push(`${where}: ${msg}`); if (!this.quiet) console.log(`  FAIL ${where}: ${msg}`); }
  note(where, msg) { this.notes.push(`${where}: ${msg}`); if (!this.quiet) console.log(`  note ${where}: ${msg}`); }
  ok(where, msg) { if (!this.quiet) console.log(`  ok   ${where}: ${msg}`); }
}

function die(msg) { console.error(`deploy.manifests: ${msg}`); process.exit(1); }

// ---------------------------------------------------------------- tools
function which(cmd) {
  const r = cp.spawnSync('sh', ['-c', `command -v "${cmd}"`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
if (!which(KUBECTL)) die(`kubectl not found (${KUBECTL}): install kubectl >= 1.27 (it bundles kustomize); the manifests cannot be rendered without it`);
const kver = cp.spawnSync(KUBECTL, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
let kustomizeVersion = '?';
try { kustomizeVersion = JSON.parse(kver.stdout).kustomizeVersion || '?'; } catch (e) { /* older kubectl */ }
if (!fs.existsSync(path.join(NODE_DIR, 'node_modules', 'kubernetes-models'))) die(`kubernetes-models is not installed in ${NODE_DIR} (tests/deploy/run.sh installs it with npm ci)`);
const nreq = createRequire(path.join(NODE_DIR, 'package.json'));
const YAML = nreq('yaml');
const strict = new StrictFields(nreq);

// ---------------------------------------------------------------- rendering
function render(dir) {
  const r = cp.spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: `kubectl kustomize failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  const objs = [];
  for (const d of YAML.parseAllDocuments(r.stdout)) {
    if (d.errors.length) return { error: `rendered YAML does not parse: ${d.errors[0].message}` };
    const o = d.toJS();
    if (o) objs.push(o);
  }
  return { objs, text: r.stdout };
}
function parseYamlDocs(file) {
  const out = [];
  for (const d of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o) out.push(o);
  }
  return out;
}
const id = (o) => `${o.kind}/${(o.metadata || {}).name}`;

// ---------------------------------------------------------------- schemas
function modelClass(apiVersion, kind) {
  const mods = apiVersion.includes('/')
    ? [`kubernetes-models/${apiVersion}`, `@kubernetes-models/prometheus-operator/${apiVersion}`]
    : [`kubernetes-models/${apiVersion}`];
  for (const m of mods) {
    let file;
    try { file = nreq.resolve(`${m}/${kind}`); } catch (e) { continue; }
    const Cls = nreq(file)[kind];
    if (Cls) return { Cls, file };
  }
  return null;
}

function validateSchema(o, where, report) {
  if (!K.isObj(o) || !o.apiVersion || !o.kind) { report.error(where, 'object without apiVersion/kind'); return; }
  const mc = modelClass(o.apiVersion, o.kind);
  if (!mc) { report.error(`${where} ${id(o)}`, `no schema for ${o.apiVersion} ${o.kind} (add its kubernetes-models package to tests/deploy/package.json)`); return; }
  try {
    new mc.Cls(o).validate();
  } catch (e) {
    report.error(`${where} ${id(o)}`, `schema: ${String(e.message).replace(/\s+/g, ' ').slice(0, 400)}`);
  }
  const ty = strict.typeForClassFile(mc.file, o.kind);
  if (!ty) { report.error(`${where} ${id(o)}`, 'no type declarations to check fields against'); return; }
  for (const u of strict.check(o, ty, '')) report.error(`${where} ${id(o)}`, u);
}

// Rules the API server applies that the OpenAPI schemas do not express.
function apiServerRules(objs, where, report) {
  const seen = new Set();
  for (const o of objs) {
    const w = `${where} ${id(o)}`;
    const md = o.metadata || {};
    const key = `${o.apiVersion.split('/')[0]}/${o.kind}/${md.namespace || ''}/${md.name}`;
    if (seen.has(key)) report.error(w, 'defined twice');
    seen.add(key);
    if (!md.name) { report.error(w, 'metadata.name missing'); continue; }
    const nameRe = ['Service', 'Namespace'].includes(o.kind) ? (o.kind === 'Service' ? K.DNS1035_LABEL : K.DNS1123_LABEL) : K.DNS1123_SUBDOMAIN;
    const maxLen = ['Service', 'Namespace'].includes(o.kind) ? 63 : 253;
    if (!nameRe.test(md.name) || md.name.length > maxLen) report.error(w, `invalid name "${md.name}"`);
    for (const [field, m] of [['labels', md.labels], ['annotations', md.annotations]]) {
      for (const [k, v] of Object.entries(m || {})) {
        const e = K.labelKeyError(k);
        if (e) report.error(w, `${field} key ${k}: ${e}`);
        if (typeof v !== 'string') report.error(w, `${field}.${k} must be a string`);
        else if (field === 'labels' && (!K.LABEL_VALUE.test(v) || v.length > 63)) report.error(w, `label value "${v}" is invalid`);
      }
    }
    const tpl = podTemplateOf(o);
    if (tpl) {
      const sel = (o.spec || {}).selector;
      if (!sel || !K.selectorMatches(sel, (tpl.metadata || {}).labels)) report.error(w, 'spec.selector does not match the pod template labels');
      podSpecRules(tpl.spec || {}, w, report);
    }
    if (o.kind === 'Service') {
      const s = o.spec || {};
      const names = new Set();
      for (const p of s.ports || []) {
        if ((s.ports || []).length > 1 && !p.name) report.error(w, `port ${p.port} needs a name`);
        if (p.name) { const e = K.portNameError(p.name); if (e) report.error(w, `port name ${p.name}: ${e}`); if (names.has(p.name)) report.error(w, `port name ${p.name} twice`); names.add(p.name); }
        if (!(p.port >= 1 && p.port <= 65535)) report.error(w, `port ${p.port} out of range`);
        if (typeof p.targetPort === 'number' && !(p.targetPort >= 1 && p.targetPort <= 65535)) report.error(w, `targetPort ${p.targetPort} out of range`);
        if (typeof p.targetPort === 'string' && K.portNameError(p.targetPort)) report.error(w, `targetPort ${p.targetPort}: ${K.portNameError(p.targetPort)}`);
      }
      if (s.clusterIP === 'None' && s.type && s.type !== 'ClusterIP') report.error(w, `clusterIP: None with type ${s.type}`);
      if (s.externalTrafficPolicy && !['LoadBalancer', 'NodePort'].includes(s.type)) report.error(w, 'externalTrafficPolicy needs type LoadBalancer or NodePort');
    }
    if (o.kind === 'PodDisruptionBudget') {
      const s = o.spec || {};
      if ((s.minAvailable === undefined) === (s.maxUnavailable === undefined)) report.error(w, 'set exactly one of minAvailable and maxUnavailable');
    }
    if (o.kind === 'NetworkPolicy') {
      for (const r of (o.spec || {}).ingress || []) {
        for (const p of r.ports || []) {
          if (p.endPort !== undefined && (typeof p.port !== 'number' || p.endPort < p.port)) report.error(w, `endPort ${p.endPort} needs a numeric port <= it`);
        }
      }
    }
    if (o.kind === 'ConfigMap' || o.kind === 'Secret') {
      for (const k of Object.keys({ ...(o.data || {}), ...(o.stringData || {}) })) if (!/^[-._a-zA-Z0-9]+$/.test(k)) report.error(w, `invalid key ${k}`);
    }
  }
}

function podTemplateOf(o) {
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(o.kind)) return (o.spec || {}).template || null;
  return null;
}

function podSpecRules(ps, w, report) {
  const all = [...(ps.initContainers || []), ...(ps.containers || [])];
  const names = new Set();
  for (const c of all) {
    if (!K.DNS1123_LABEL.test(c.name || '')) report.error(w, `container name "${c.name}" is invalid`);
    if (names.has(c.name)) report.error(w, `container name ${c.name} twice`);
    names.add(c.name);
    const pn = new Set(); const pp = new Set();
    for (const p of c.ports || []) {
      if (!(p.containerPort >= 1 && p.containerPort <= 65535)) report.error(w, `${c.name}: containerPort ${p.containerPort} out of range`);
      if (p.name) { const e = K.portNameError(p.name); if (e) report.error(w, `${c.name}: port name ${p.name}: ${e}`); if (pn.has(p.name)) report.error(w, `${c.name}: port name ${p.name} twice`); pn.add(p.name); }
      const k = `${p.containerPort}/${p.protocol || 'TCP'}`;
      if (pp.has(k)) report.error(w, `${c.name}: containerPort ${k} twice`);
      pp.add(k);
    }
    for (const pr of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const p = c[pr];
      if (!p) continue;
      const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => p[h]);
      if (handlers.length !== 1) report.error(w, `${c.name}.${pr}: needs exactly one handler, has ${handlers.join(', ') || 'none'}`);
      if (p.grpc && !(p.grpc.port >= 1 && p.grpc.port <= 65535)) report.error(w, `${c.name}.${pr}.grpc.port ${p.grpc.port} out of range`);
      if ((pr === 'livenessProbe' || pr === 'startupProbe') && p.successThreshold !== undefined && p.successThreshold !== 1) report.error(w, `${c.name}.${pr}.successThreshold must be 1`);
    }
    const res = c.resources || {};
    for (const part of ['requests', 'limits']) {
      for (const [k, v] of Object.entries(res[part] || {})) if (Number.isNaN(K.quantity(v, k === 'cpu'))) report.error(w, `${c.name}: resources.${part}.${k} "${v}" is not a quantity`);
    }
    for (const k of Object.keys(res.requests || {})) {
      const rq = K.quantity(res.requests[k], k === 'cpu'); const lm = K.quantity((res.limits || {})[k], k === 'cpu');
      if (lm !== null && rq > lm) report.error(w, `${c.name}: ${k} request ${res.requests[k]} exceeds its limit ${res.limits[k]}`);
    }
    for (const m of c.volumeMounts || []) if (!(ps.volumes || []).some((v) => v.name === m.name)) report.error(w, `${c.name}: volumeMount ${m.name} has no volume`);
  }
  if (ps.dnsPolicy === 'ClusterFirstWithHostNet' && !ps.hostNetwork) report.note(w, 'dnsPolicy ClusterFirstWithHostNet without hostNetwork');
}

// ---------------------------------------------------------------- project checks
function workloads(objs) {
  return objs.filter((o) => podTemplateOf(o)).map((o) => {
    const tpl = podTemplateOf(o);
    return { obj: o, ns: o.metadata.namespace, name: o.metadata.name, labels: (tpl.metadata || {}).labels || {}, spec: tpl.spec || {} };
  });
}
const imageRepo = (img) => String(img || '').replace(/@.*$/, '').replace(/:[^:/]+$/, '');
const imageBase = (img) => imageRepo(img).split('/').pop();
const imageTag = (img) => { const s = String(img || '').replace(/@.*$/, ''); const m = /:([^:/]+)$/.exec(s); return m ? m[1] : null; };

function secretKeys(o) {
  return new Set(Object.keys({ ...(o.data || {}), ...(o.stringData || {}) }));
}

// Where a file path inside a container comes from: {mount, volume, key, content?}.
function mountedFile(ws, c, file, ctx) {
  const mounts = (c.volumeMounts || []).filter((m) => file.startsWith(m.mountPath.replace(/\/$/, '') + '/'));
  if (!mounts.length) return { error: `${file} is under no volumeMount of container ${c.name}` };
  const m = mounts.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const vol = (ws.spec.volumes || []).find((v) => v.name === m.name);
  if (!vol) return { error: `volume ${m.name} missing` };
  let rel = file.slice(m.mountPath.replace(/\/$/, '').length + 1);
  if (m.subPath) return { error: `${file}: subPath mounts are not followed` };
  const src = vol.configMap ? { kind: 'ConfigMap', name: vol.configMap.name, items: vol.configMap.items }
    : vol.secret ? { kind: 'Secret', name: vol.secret.secretName, items: vol.secret.items } : null;
  if (!src) return { error: `${file} is on volume ${m.name}, which is neither a ConfigMap nor a Secret` };
  let key = rel;
  if (src.items) {
    const it = src.items.find((i) => i.path === rel);
    if (!it) return { error: `${file}: volume ${m.name} maps no item to ${rel}` };
    key = it.key;
  }
  const obj = ctx.objs.find((o) => o.kind === src.kind && o.metadata.name === src.name && o.metadata.namespace === ws.ns);
  if (obj) {
    const keys = src.kind === 'ConfigMap' ? new Set(Object.keys(obj.data || {})) : secretKeys(obj);
    if (!keys.has(key)) return { error: `${file}: ${src.kind} ${src.name} has no key ${key}` };
    let content = null;
    if (src.kind === 'ConfigMap') content = obj.data[key];
    return { mount: m, volume: vol, src, key, content, obj };
  }
  if (src.kind === 'Secret') {
    const ext = ctx.externalSecrets.find((s) => s.metadata.name === src.name);
    if (!ext) return { error: `${file}: Secret ${src.name} is neither rendered nor listed in secrets.example.yaml` };
    if (!secretKeys(ext).has(key)) return { error: `${file}: secrets.example.yaml's ${src.name} has no key ${key}` };
    return { mount: m, volume: vol, src, key, external: true };
  }
  return { error: `${file}: ConfigMap ${src.name} is not rendered` };
}

// NetworkPolicy helpers.
function policiesFor(objs, ns, labels) {
  return objs.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === ns
    && K.selectorMatches((o.spec || {}).podSelector || {}, labels)
    && ((o.spec || {}).policyTypes || ['Ingress']).includes('Ingress'));
}
function ruleAllowsPort(rule, port, containerPorts) {
  if (!rule.ports || !rule.ports.length) return true;
  return rule.ports.some((p) => {
    if ((p.protocol || 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') return containerPorts.some((cp2) => cp2.name === p.port && cp2.containerPort === port);
    if (p.endPort !== undefined) return port >= p.port && port <= p.endPort;
    return p.port === port;
  });
}
function rulesAllowing(pols, port, containerPorts) {
  const out = [];
  for (const pol of pols) for (const r of (pol.spec || {}).ingress || []) if (ruleAllowsPort(r, port, containerPorts)) out.push({ pol, r });
  return out;
}

function projectChecks(objs, ctx) {
  const { report, where } = ctx;
  const info = { server: null, hooks: [], config: null, configText: null };
  const ws = workloads(objs);
  const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'IngressClass']);
  for (const o of objs) if (!CLUSTER_SCOPED.has(o.kind) && !(o.metadata || {}).namespace) report.error(`${where} ${id(o)}`, 'has no namespace: it would land in kubectl\'s current namespace');
  const namespaces = new Set(objs.map((o) => (o.metadata || {}).namespace).filter(Boolean));
  if (namespaces.size !== 1) report.error(where, `objects span namespaces ${[...namespaces].join(', ') || '(none)'}; an overlay deploys into one`);
  const ns = [...namespaces][0];
  const nsObj = objs.find((o) => o.kind === 'Namespace');
  if (!nsObj || nsObj.metadata.name !== ns) report.error(where, `no Namespace object for ${ns}`);

  // --- every container: probes, resources, security
  for (const w of ws) {
    const ww = `${where} ${id(w.obj)}`;
    const psc = w.spec.securityContext || {};
    if (w.spec.hostPID || w.spec.hostIPC) report.error(ww, 'hostPID/hostIPC');
    for (const c of [...(w.spec.initContainers || []), ...(w.spec.containers || [])]) {
      const cw = `${ww} container ${c.name}`;
      const isInit = (w.spec.initContainers || []).includes(c);
      if (!isInit) {
        for (const pr of ['readinessProbe', 'livenessProbe']) if (!c[pr]) report.error(cw, `no ${pr}`);
        for (const pr of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          const p = c[pr];
          if (!p) continue;
          const port = p.grpc ? p.grpc.port : p.tcpSocket ? p.tcpSocket.port : p.httpGet ? p.httpGet.port : null;
          if (port !== null && !(c.ports || []).some((x) => x.containerPort === port || x.name === port)) report.error(cw, `${pr} targets port ${port}, which the container does not declare`);
        }
      }
      const res = c.resources || {};
      for (const part of ['requests', 'limits']) for (const k of ['cpu', 'memory']) if (!(res[part] || {})[k]) report.error(cw, `no resources.${part}.${k}`);
      const sc = c.securityContext || {};
      const eff = (k) => (sc[k] !== undefined ? sc[k] : psc[k]);
      if (eff('runAsNonRoot') !== true) report.error(cw, 'securityContext.runAsNonRoot is not true');
      if (eff('runAsUser') === 0) report.error(cw, 'runs as uid 0');
      if (sc.readOnlyRootFilesystem !== true) report.error(cw, 'securityContext.readOnlyRootFilesystem is not true');
      if (sc.allowPrivilegeEscalation !== false) report.error(cw, 'securityContext.allowPrivilegeEscalation is not false');
      if (sc.privileged) report.error(cw, 'privileged');
      const caps = sc.capabilities || {};
      if (!(caps.drop || []).includes('ALL')) report.error(cw, 'securityContext.capabilities.drop does not include ALL');
      if ((caps.add || []).length) report.error(cw, `adds capabilities ${caps.add.join(', ')}`);
      const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
      if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) report.error(cw, 'no RuntimeDefault seccompProfile (Pod Security "restricted")');
      const tag = imageTag(c.image);
      if (!tag && !String(c.image).includes('@sha256:')) report.error(cw, `image ${c.image} has no tag`);
      if (tag === 'latest') report.error(cw, `image ${c.image}: pin a version, not latest`);
    }
  }

  // --- images
  const servers = [];
  const hooks = [];
  for (const w of ws) for (const c of w.spec.containers || []) {
    if (imageBase(c.image) === SERVER_IMAGE) servers.push({ ws: w, c });
    else if (imageBase(c.image) === HOOKS_IMAGE) hooks.push({ ws: w, c });
    else report.error(`${where} ${id(w.obj)}`, `container ${c.name} runs ${c.image}, neither ${SERVER_IMAGE} nor ${HOOKS_IMAGE}`);
  }
  const ours = [...servers, ...hooks].map((x) => x.c.image);
  const tags = new Set(ours.map(imageTag));
  if (tags.size > 1) report.error(where, `images carry different tags (${[...tags].join(', ')}); the server and hooks images come from one build`);
  const registries = new Set(ours.map((i) => imageRepo(i).split('/').slice(0, -1).join('/')));
  if (registries.size > 1) report.error(where, `images come from different registries/paths: ${[...registries].join(', ')}`);
  if (ctx.docker) {
    const hookBins = ctx.docker.hookBinaries;
    for (const h of hooks) {
      const cmd = (h.c.command || [])[0];
      if (!cmd) report.error(`${where} ${id(h.ws.obj)}`, 'hook container sets no command (the hooks image holds several hooks)');
      else if (path.dirname(cmd) !== '/usr/local/bin' || !hookBins.has(path.basename(cmd))) report.error(`${where} ${id(h.ws.obj)}`, `command ${cmd} is not a binary the hooks image installs (${[...hookBins].map((b) => `/usr/local/bin/${b}`).join(', ')})`);
    }
  }

  // --- the server
  if (servers.length !== 1) { report.error(where, `expected exactly one ${SERVER_IMAGE} container, found ${servers.length}`); return info; }
  const S = servers[0];
  info.server = S;
  const sw = `${where} ${id(S.ws.obj)}`;
  if (S.ws.obj.kind !== 'Deployment') report.error(sw, 'the server should be a Deployment');
  if ((S.ws.obj.spec.replicas ?? 1) !== 1) report.error(sw, `replicas ${S.ws.obj.spec.replicas}: one server per tunnel namespace (tunnels are in-process state)`);
  const strategy = ((S.ws.obj.spec || {}).strategy || {}).type || 'RollingUpdate';
  if (strategy !== 'Recreate') report.error(sw, `strategy ${strategy}: the old server must release the public ports before the new one binds them (Recreate)`);
  if (S.c.command && S.c.command[0] !== '/usr/local/bin/reitunneld') report.error(sw, `command ${S.c.command[0]} is not /usr/local/bin/reitunneld`);
  const sargs = S.c.args || [];
  for (const a of sargs) if (/^--(token|admin-token)=/.test(a)) report.error(sw, `${a.split('=')[0]} on the command line: secrets come from the Secret via env`);
  const cfgPath = K.flagValue(sargs, 'config');
  if (!cfgPath) { report.error(sw, 'no --config=FILE argument'); return info; }
  const cfgSrc = mountedFile(S.ws, S.c, cfgPath, ctx);
  if (cfgSrc.error) { report.error(sw, cfgSrc.error); return info; }
  if (cfgSrc.src.kind !== 'ConfigMap') report.error(sw, `${cfgPath} comes from a ${cfgSrc.src.kind}; the config belongs in a ConfigMap`);
  if (cfgSrc.content === null || cfgSrc.content === undefined) return info;
  info.configText = cfgSrc.content;
  let cfg;
  try { cfg = YAML.parse(cfgSrc.content) || {}; } catch (e) { report.error(sw, `${cfgPath}: YAML does not parse: ${e.message}`); return info; }
  info.config = cfg;
  const cw = `${where} ${cfgSrc.src.kind}/${cfgSrc.src.name}:${cfgSrc.key}`;
  if (cfg.token !== undefined) report.error(cw, 'token in the ConfigMap: it belongs in the Secret (env REITUNNEL_TOKEN)');
  if ((cfg.admin_api || {}).token !== undefined) report.error(cw, 'admin_api.token in the ConfigMap: it belongs in the Secret (env REITUNNEL_ADMIN_TOKEN)');
  const env = S.c.env || [];
  const envNames = new Set(env.map((e) => e.name));
  if (!envNames.has('REITUNNEL_TOKEN') && !K.flagValue(sargs, 'token')) report.error(sw, 'no REITUNNEL_TOKEN env var: the server needs a token');
  for (const e of env) {
    if (/TOKEN|KEY|PASSWORD|SECRET/.test(e.name) && e.value !== undefined) report.error(sw, `env ${e.name} has a literal value; take it from a Secret`);
  }

  // ports
  const cports = S.c.ports || [];
  const byName = (n) => cports.find((p) => p.name === n);
  const addr = (key, flag, def) => K.flagValue(sargs, flag) || cfg[key] || def;
  const checkListener = (key, flag, def, portName) => {
    const v = addr(key, flag, def);
    const hp = K.parseHostPort(v);
    if (!hp) { report.error(cw, `${key}: "${v}" is not HOST:PORT`); return null; }
    if (/^(127\.|localhost$|::1$)/.test(hp.host)) report.error(cw, `${key} ${v} listens on loopback: probes and Services reach the pod IP`);
    const p = byName(portName);
    if (!p) report.error(sw, `no containerPort named ${portName}`);
    else if (p.containerPort !== hp.port) report.error(sw, `containerPort ${portName} is ${p.containerPort} but ${key} is ${v}`);
    return hp.port;
  };
  const agentPort = checkListener('listen', 'listen', '0.0.0.0:7000', 'agent');
  const adminPort = checkListener('admin', 'admin', '127.0.0.1:7001', 'admin');
  const metricsAddr = addr('metrics', 'metrics', '');
  const metricsPort = metricsAddr ? checkListener('metrics', 'metrics', '', 'metrics') : null;
  if (!metricsAddr) report.error(cw, 'no metrics listener (config key metrics or --metrics)');
  const range = K.parseRange(addr('public_ports', 'public-ports', '20000-20100'));
  if (!range) report.error(cw, 'public_ports is not LOW-HIGH');
  const inRange = (p) => range && p >= range.lo && p <= range.hi;
  for (const p of [agentPort, adminPort, metricsPort]) if (p && inRange(p)) report.error(cw, `port ${p} lies inside public_ports`);
  const admTls = cfg.admin_api || {};
  if (admTls.cert_file) report.error(cw, 'admin_api.cert_file: the admin port would speak TLS, which native gRPC probes cannot; keep it plain behind NetworkPolicy');

  // probes target the admin port's health service
  for (const pr of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const p = S.c[pr];
    if (!p) continue;
    if (!p.grpc) report.error(sw, `${pr} is not a native gRPC probe`);
    else if (p.grpc.port !== adminPort) report.error(sw, `${pr} probes port ${p.grpc.port}; health is served on the admin port ${adminPort}`);
    else if (p.grpc.service) report.error(sw, `${pr} asks for service "${p.grpc.service}"; the admin port reports health as "" only`);
  }

  // termination grace vs drain
  const drain = ((cfg.timeouts || {}).drain_ms) || DEFAULT_DRAIN_MS;
  const grace = S.ws.spec.terminationGracePeriodSeconds ?? 30;
  if (grace * 1000 < drain + STOP_MARGIN_MS) report.error(sw, `terminationGracePeriodSeconds ${grace} s does not exceed timeouts.drain_ms ${drain} ms by ${STOP_MARGIN_MS / 1000} s: SIGKILL would cut the drain`);
  else report.ok(sw, `grace ${grace} s > drain ${drain / 1000} s`);

  // files the config names must be mounted
  const files = [];
  for (const k of ['cert_file', 'key_file', 'client_ca_file']) if ((cfg.tls || {})[k]) files.push([`tls.${k}`, cfg.tls[k]]);
  for (const k of ['cert_file', 'key_file', 'client_ca_file']) if (admTls[k]) files.push([`admin_api.${k}`, admTls[k]]);
  (cfg.hooks || []).forEach((h, i) => { for (const k of ['ca_file', 'cert_file', 'key_file']) if ((h.tls || {})[k]) files.push([`hooks[${i}].tls.${k}`, h.tls[k]]); });
  info.files = files;
  for (const [k, f] of files) {
    const r = mountedFile(S.ws, S.c, f, ctx);
    if (r.error) report.error(cw, `${k}: ${r.error}`);
  }

  // Mounted Secret/ConfigMap files must be readable by the non-root user:
  // they are owned by root, group fsGroup (when set), with defaultMode/mode.
  for (const w of ws) {
    const fsGroup = (w.spec.securityContext || {}).fsGroup;
    for (const v of w.spec.volumes || []) {
      const src = v.secret || v.configMap;
      if (!src) continue;
      const modes = [src.defaultMode ?? 0o644, ...((src.items || []).map((i) => i.mode).filter((m) => m !== undefined))];
      for (const m of modes) {
        const readable = (m & 0o004) || (fsGroup !== undefined && (m & 0o040));
        if (!readable) report.error(`${where} ${id(w.obj)}`, `volume ${v.name}: mode 0${m.toString(8)}${fsGroup === undefined ? ' without fsGroup' : ''} leaves its files unreadable to a non-root user`);
      }
    }
  }

  // Secret and ConfigMap references
  const refs = [];
  for (const w of ws) {
    for (const c of [...(w.spec.initContainers || []), ...(w.spec.containers || [])]) {
      for (const e of c.env || []) {
        const vf = e.valueFrom || {};
        if (vf.secretKeyRef) refs.push({ w, kind: 'Secret', name: vf.secretKeyRef.name, key: vf.secretKeyRef.key, optional: vf.secretKeyRef.optional, what: `env ${e.name}` });
        if (vf.configMapKeyRef) refs.push({ w, kind: 'ConfigMap', name: vf.configMapKeyRef.name, key: vf.configMapKeyRef.key, optional: vf.configMapKeyRef.optional, what: `env ${e.name}` });
      }
      for (const ef of c.envFrom || []) {
        if (ef.secretRef) refs.push({ w, kind: 'Secret', name: ef.secretRef.name, optional: ef.secretRef.optional, what: 'envFrom' });
        if (ef.configMapRef) refs.push({ w, kind: 'ConfigMap', name: ef.configMapRef.name, optional: ef.configMapRef.optional, what: 'envFrom' });
      }
    }
    for (const v of w.spec.volumes || []) {
      if (v.secret) refs.push({ w, kind: 'Secret', name: v.secret.secretName, optional: v.secret.optional, what: `volume ${v.name}`, items: v.secret.items });
      if (v.configMap) refs.push({ w, kind: 'ConfigMap', name: v.configMap.name, optional: v.configMap.optional, what: `volume ${v.name}`, items: v.configMap.items });
    }
  }
  const externalUsed = new Set();
  for (const r of refs) {
    const rw = `${where} ${id(r.w.obj)} ${r.what}`;
    const obj = objs.find((o) => o.kind === r.kind && o.metadata.name === r.name && o.metadata.namespace === r.w.ns);
    let keys = null;
    if (obj) keys = r.kind === 'ConfigMap' ? new Set(Object.keys({ ...(obj.data || {}), ...(obj.binaryData || {}) })) : secretKeys(obj);
    else if (r.kind === 'Secret') {
      const ext = ctx.externalSecrets.find((s) => s.metadata.name === r.name);
      if (ext) { keys = secretKeys(ext); externalUsed.add(r.name); }
    }
    if (!keys) { if (!r.optional) report.error(rw, `${r.kind} ${r.name} is not rendered${r.kind === 'Secret' ? ' and not listed in the overlay\'s secrets.example.yaml' : ''}`); continue; }
    for (const k of [r.key, ...((r.items || []).map((i) => i.key))].filter(Boolean)) if (!keys.has(k)) report.error(rw, `${r.kind} ${r.name} has no key ${k}`);
  }
  for (const s of ctx.externalSecrets) if (!externalUsed.has(s.metadata.name)) report.error(`${where} secrets.example.yaml`, `Secret ${s.metadata.name} is listed but nothing refers to it`);
  for (const s of ctx.externalSecrets) if (s.metadata.namespace && s.metadata.namespace !== ns) report.error(`${where} secrets.example.yaml`, `Secret ${s.metadata.name} is in namespace ${s.metadata.namespace}, the overlay deploys to ${ns}`);

  // --- Services in front of the server
  const svcs = objs.filter((o) => o.kind === 'Service');
  const svcsFor = (w) => svcs.filter((s) => s.metadata.namespace === w.ns && K.mapSelectorMatches((s.spec || {}).selector, w.labels));
  for (const s of svcs) {
    if (!ws.some((w) => w.ns === s.metadata.namespace && K.mapSelectorMatches((s.spec || {}).selector, w.labels))) report.error(`${where} ${id(s)}`, 'selects no pods');
  }
  const hostNet = !!S.ws.spec.hostNetwork;
  const publicTargets = new Map();
  let agentExposed = false; let adminSvc = false; let metricsSvc = null;
  for (const s of svcsFor(S.ws)) {
    const type = (s.spec || {}).type || 'ClusterIP';
    const external = type === 'LoadBalancer' || type === 'NodePort';
    for (const p of (s.spec || {}).ports || []) {
      const tp = p.targetPort === undefined ? p.port : p.targetPort;
      let target = typeof tp === 'string' ? (byName(tp) || {}).containerPort : tp;
      if (typeof tp === 'string' && target === undefined) { report.error(`${where} ${id(s)}`, `targetPort ${tp} names no port of the server container`); continue; }
      const sp = `${id(s)} port ${p.name || p.port}`;
      if (target === agentPort) { if (external) agentExposed = true; }
      else if (target === adminPort) { adminSvc = true; if (external) report.error(`${where} ${sp}`, 'exposes the admin port outside the cluster'); }
      else if (target === metricsPort) { metricsSvc = s; if (external) report.error(`${where} ${sp}`, 'exposes the metrics port outside the cluster'); }
      else if (inRange(target)) {
        if (!external) report.error(`${where} ${sp}`, `public port ${target} on a ${type} Service is unreachable for visitors`);
        if (publicTargets.has(target)) report.error(`${where} ${sp}`, `public port ${target} also exposed by ${publicTargets.get(target)}`);
        publicTargets.set(target, sp);
      } else report.error(`${where} ${sp}`, `targets port ${target}, which the server does not listen on (agent ${agentPort}, admin ${adminPort}, metrics ${metricsPort}, public ${range ? `${range.lo}-${range.hi}` : '?'})`);
    }
  }
  if (!agentExposed) report.error(where, `no LoadBalancer/NodePort Service exposes the agent port ${agentPort}`);
  if (!adminSvc) report.error(where, `no ClusterIP Service for the admin port ${adminPort}`);
  if (metricsPort && !metricsSvc) report.error(where, `no Service for the metrics port ${metricsPort}`);
  if (range && !hostNet) {
    const missing = [];
    for (let p = range.lo; p <= range.hi; p++) if (!publicTargets.has(p)) missing.push(p);
    if (missing.length) report.error(where, `public_ports ${range.lo}-${range.hi}: ${missing.length} port(s) not exposed by any Service (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`);
    else report.ok(where, `public ports ${range.lo}-${range.hi} all exposed`);
  }
  if (hostNet) {
    if ((cfg.hooks || []).length && S.ws.spec.dnsPolicy !== 'ClusterFirstWithHostNet') report.error(sw, 'hostNetwork without dnsPolicy ClusterFirstWithHostNet: hook dns:/// names would not resolve');
    if (publicTargets.size) report.note(sw, 'hostNetwork and a Service for public ports at once');
  }
  // Monitoring objects must select the metrics Service.
  for (const sm of objs.filter((o) => o.kind === 'ServiceMonitor')) {
    const smw = `${where} ${id(sm)}`;
    const sel = (sm.spec || {}).selector || {};
    const nsSel = (sm.spec || {}).namespaceSelector;
    const matched = svcs.filter((s) => (!nsSel ? s.metadata.namespace === sm.metadata.namespace : true) && K.selectorMatches(sel, s.metadata.labels));
    if (!metricsSvc || !matched.includes(metricsSvc)) report.error(smw, 'does not select the metrics Service');
    if (matched.some((s) => s !== metricsSvc)) report.error(smw, `also selects ${matched.filter((s) => s !== metricsSvc).map(id).join(', ')}`);
    for (const ep of (sm.spec || {}).endpoints || []) {
      if (metricsSvc && !(metricsSvc.spec.ports || []).some((p) => p.name === ep.port)) report.error(smw, `endpoint port ${ep.port} is not a port name of ${id(metricsSvc)}`);
      if (ep.path && ep.path !== '/metrics') report.error(smw, `path ${ep.path}: the server serves /metrics`);
    }
  }
  for (const s of svcs) {
    const an = s.metadata.annotations || {};
    if (an['prometheus.io/scrape'] === 'true') {
      if (s !== metricsSvc) report.error(`${where} ${id(s)}`, 'prometheus.io/scrape on a Service that is not the metrics Service');
      else if (Number(an['prometheus.io/port']) !== (s.spec.ports || [])[0].port) report.error(`${where} ${id(s)}`, `prometheus.io/port ${an['prometheus.io/port']} is not the Service port`);
    }
  }

  // --- hooks
  const hookDefs = [...(cfg.hooks || [])];
  for (const spec of sargs.filter((a) => a.startsWith('--hook='))) { const [n, ...r] = spec.slice(7).split('='); hookDefs.push({ name: n, address: r.join('='), events: HOOK_EVENTS.filter((e) => !e.startsWith('visitor_')) }); }
  const usedHookWorkloads = new Set();
  const hookServiceName = ctx.hookServiceName;
  for (const h of hookDefs) {
    const hw = `${cw} hook ${h.name}`;
    for (const e of h.events || []) if (!HOOK_EVENTS.includes(e)) report.error(hw, `unknown event ${e}`);
    if (h.failure_policy && !['fail_closed', 'fail_open'].includes(h.failure_policy)) report.error(hw, `failure_policy ${h.failure_policy}`);
    const m = /^dns:\/\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)$/.exec(h.address || '');
    if (!m) { report.error(hw, `address ${h.address} is not dns:///SERVICE.NAMESPACE.svc.cluster.local:PORT (round-robin over a headless Service)`); continue; }
    const [, svcName, svcNs, portS] = m; const port = Number(portS);
    if (svcNs !== ns) { report.error(hw, `address names namespace ${svcNs}, the overlay deploys to ${ns}`); continue; }
    const svc = svcs.find((s) => s.metadata.name === svcName && s.metadata.namespace === svcNs);
    if (!svc) { report.error(hw, `no Service ${svcName} in the rendered output`); continue; }
    if ((svc.spec || {}).clusterIP !== 'None') report.error(hw, `Service ${svcName} is not headless (clusterIP: None): gRPC would see one virtual IP and pin one pod`);
    if ((svc.spec || {}).publishNotReadyAddresses) report.error(hw, `Service ${svcName} publishes not-ready pods`);
    const targets = ws.filter((w) => w.ns === svcNs && K.mapSelectorMatches((svc.spec || {}).selector, w.labels));
    if (!targets.length) { report.error(hw, `Service ${svcName} selects no pods`); continue; }
    for (const t of targets) {
      usedHookWorkloads.add(t);
      const hc = (t.spec.containers || []).find((c) => (c.ports || []).some((p) => p.containerPort === port));
      if (!hc) { report.error(hw, `${id(t.obj)} has no container port ${port}: a headless Service does not map ports, the address port must be the pod's`); continue; }
      const sp = (svc.spec.ports || []).find((p) => p.port === port);
      if (!sp) report.error(hw, `Service ${svcName} has no port ${port}`);
      else {
        const tp = sp.targetPort === undefined ? sp.port : sp.targetPort;
        const tnum = typeof tp === 'string' ? ((hc.ports || []).find((p) => p.name === tp) || {}).containerPort : tp;
        if (tnum !== port) report.error(hw, `Service ${svcName} port ${port} targets ${tp}, not ${port}`);
      }
    }
  }
  for (const h of hooks) {
    const w = h.ws; const c = h.c;
    const hw = `${where} ${id(w.obj)}`;
    info.hooks.push(h);
    if (!usedHookWorkloads.has(w)) report.error(hw, 'no hook in the server config points at this hook service');
    if ((w.labels['app.kubernetes.io/component']) !== 'hook') report.error(hw, 'pods lack the label app.kubernetes.io/component=hook that NetworkPolicy reitunnel-hooks selects');
    const listen = K.parseHostPort(K.flagValue(c.args, 'listen') || '');
    const grpcPort = (c.ports || []).find((p) => p.name === 'grpc');
    if (!grpcPort) report.error(hw, 'no containerPort named grpc');
    if (!listen) report.error(hw, 'no --listen=HOST:PORT argument');
    else {
      if (/^(127\.|localhost$|::1$)/.test(listen.host)) report.error(hw, `--listen=${listen.host}:${listen.port} is loopback`);
      if (grpcPort && grpcPort.containerPort !== listen.port) report.error(hw, `--listen port ${listen.port} differs from containerPort grpc ${grpcPort.containerPort}`);
    }
    const hp = listen ? listen.port : grpcPort && grpcPort.containerPort;
    for (const pr of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const p = c[pr];
      if (!p) continue;
      if (!p.grpc) { report.error(hw, `${pr} is not a native gRPC probe`); continue; }
      if (p.grpc.port !== hp) report.error(hw, `${pr} probes port ${p.grpc.port}, the hook serves on ${hp}`);
      if (p.grpc.service && hookServiceName && p.grpc.service !== hookServiceName) report.error(hw, `${pr} asks for service "${p.grpc.service}"; HookServer reports "${hookServiceName}" (and "")`);
    }
    if (c.readinessProbe && c.readinessProbe.grpc && hookServiceName && c.readinessProbe.grpc.service !== hookServiceName) report.note(hw, `readinessProbe could ask for "${hookServiceName}" (SERVING only once the hook API is up)`);
    const graceH = w.spec.terminationGracePeriodSeconds ?? 30;
    const pre = (((c.lifecycle || {}).preStop || {}).exec || {}).command || [];
    const sleep = pre.length === 2 && /(^|\/)sleep$/.test(pre[0]) ? Number(pre[1]) : (((c.lifecycle || {}).preStop || {}).sleep || {}).seconds || 0;
    if (graceH < sleep + 1 + 1) report.error(hw, `terminationGracePeriodSeconds ${graceH} s leaves no time after the preStop sleep (${sleep} s) and the hook's 1 s shutdown grace`);
    // auth-hook's allowed ports must lie inside the server's range.
    const allow = [];
    if (K.flagValue(c.args, 'allow-ports')) allow.push(K.flagValue(c.args, 'allow-ports'));
    const pol = K.flagValue(c.args, 'policy');
    if (pol) {
      const r = mountedFile(w, c, pol, ctx);
      if (r.error) report.error(hw, `--policy: ${r.error}`);
      else if (r.content) for (const line of r.content.split('\n')) { const mm = /^\s*allow-ports=(\S+)/.exec(line); if (mm) allow.push(mm[1]); }
    }
    for (const a of allow) {
      const ar = K.parseRange(a);
      if (!ar) report.error(hw, `allow-ports ${a} is not LOW-HIGH`);
      else if (range && (ar.lo < range.lo || ar.hi > range.hi)) report.error(hw, `allow-ports ${a} reaches outside the server's public_ports ${range.lo}-${range.hi}`);
    }
  }

  // --- NetworkPolicies
  const serverPolicies = policiesFor(objs, S.ws.ns, S.ws.labels);
  if (!serverPolicies.length) report.error(sw, 'no NetworkPolicy selects the server pods');
  else if (!hostNet) {
    const open = (port) => rulesAllowing(serverPolicies, port, cports);
    const fromAnywhere = (rs) => rs.some(({ r }) => !r.from || !r.from.length);
    if (!fromAnywhere(open(agentPort))) report.error(sw, `NetworkPolicy does not let agents (from anywhere) reach port ${agentPort}`);
    if (range) for (const p of [range.lo, range.hi]) if (!fromAnywhere(open(p))) report.error(sw, `NetworkPolicy does not let visitors reach public port ${p}`);
    const restricted = (port, what) => {
      const rs = open(port);
      if (!rs.length) report.error(sw, `NetworkPolicy lets nobody reach the ${what} port ${port}`);
      for (const { pol, r } of rs) {
        if (!r.from || !r.from.length) report.error(`${where} ${id(pol)}`, `opens the ${what} port ${port} to everyone`);
        for (const peer of r.from || []) {
          if (peer.ipBlock) report.error(`${where} ${id(pol)}`, `opens the ${what} port to ipBlock ${peer.ipBlock.cidr}`);
          const sels = [peer.podSelector, peer.namespaceSelector].filter(Boolean);
          if (sels.some((s) => !Object.keys(s.matchLabels || {}).length && !(s.matchExpressions || []).length)) report.error(`${where} ${id(pol)}`, `opens the ${what} port to an empty (match-all) selector`);
        }
      }
    };
    restricted(adminPort, 'admin');
    if (metricsPort) restricted(metricsPort, 'metrics');
  }
  const hookWs = [...new Set(hooks.map((h) => h.ws))];
  for (const w of hookWs) {
    const hw = `${where} ${id(w.obj)}`;
    const pols = policiesFor(objs, w.ns, w.labels);
    const c = (w.spec.containers || [])[0];
    const port = ((c.ports || []).find((p) => p.name === 'grpc') || {}).containerPort;
    if (!pols.length) { report.error(hw, 'no NetworkPolicy selects the hook pods: anything in the cluster could call it'); continue; }
    const rs = rulesAllowing(pols, port, c.ports || []);
    if (!rs.length) report.error(hw, 'NetworkPolicy lets nobody (not even the server) reach the hook port');
    let serverOk = false;
    for (const { pol, r } of rs) {
      if (!r.from || !r.from.length) { report.error(`${where} ${id(pol)}`, `opens hook ${w.name} to everyone`); continue; }
      for (const peer of r.from) {
        if (peer.ipBlock || peer.namespaceSelector || !peer.podSelector) { report.error(`${where} ${id(pol)}`, `opens hook ${w.name} beyond the server's pods (${Object.keys(peer).join(', ')})`); continue; }
        if (!Object.keys(peer.podSelector.matchLabels || {}).length && !(peer.podSelector.matchExpressions || []).length) { report.error(`${where} ${id(pol)}`, `opens hook ${w.name} to every pod of the namespace`); continue; }
        if (!K.selectorMatches(peer.podSelector, S.ws.labels)) { report.error(`${where} ${id(pol)}`, `opens hook ${w.name} to pods other than the server`); continue; }
        const others = ws.filter((o) => o !== S.ws && o.ns === S.ws.ns && K.selectorMatches(peer.podSelector, o.labels));
        if (others.length) report.error(`${where} ${id(pol)}`, `its server selector also matches ${others.map((o) => id(o.obj)).join(', ')}`);
        serverOk = true;
      }
    }
    if (!serverOk) report.error(hw, 'NetworkPolicy does not let the server reach the hook');
  }

  // --- PodDisruptionBudgets
  for (const w of ws) {
    const pdbs = objs.filter((o) => o.kind === 'PodDisruptionBudget' && o.metadata.namespace === w.ns && K.selectorMatches((o.spec || {}).selector, w.labels));
    if (!pdbs.length) report.error(`${where} ${id(w.obj)}`, 'no PodDisruptionBudget covers it');
    for (const o of objs.filter((x) => x.kind === 'PodDisruptionBudget')) {
      const others = ws.filter((x) => x !== w && K.selectorMatches((o.spec || {}).selector, x.labels));
      if (pdbs.includes(o) && others.length) report.error(`${where} ${id(o)}`, `selects pods of several workloads (${[w, ...others].map((x) => x.name).join(', ')})`);
    }
    const replicas = w.obj.spec.replicas ?? 1;
    for (const pdb of pdbs) {
      if (pdb.spec.minAvailable !== undefined && Number(pdb.spec.minAvailable) >= replicas && w !== S.ws) report.error(`${where} ${id(pdb)}`, `minAvailable ${pdb.spec.minAvailable} with ${replicas} replica(s) blocks every node drain`);
    }
  }
  return info;
}

// ---------------------------------------------------------------- live checks
function findBin(name) {
  for (const d of opts.binDirs) { const p = path.join(d, name); if (fs.existsSync(p)) return p; }
  return null;
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}
// A port nothing listens on (bound then released; connections get refused).
const closedPort = freePort;

let tlsFiles = null;
function throwawayTls() {
  if (tlsFiles) return tlsFiles;
  const dir = path.join(WORK, 'tls');
  fs.mkdirSync(dir, { recursive: true });
  const crt = path.join(dir, 'tls.crt'); const key = path.join(dir, 'tls.key');
  if (!fs.existsSync(crt)) {
    const r = cp.spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=reitunnel-deploy-check',
      '-keyout', key, '-out', crt], { encoding: 'utf8' });
    if (r.status !== 0) return null;
  }
  tlsFiles = { crt, key };
  return tlsFiles;
}

// Runs a process until a line matching `ready` shows, then SIGTERMs it.
function runUntilReady(bin, args, env, { ready, stream, readyTimeoutMs, stopTimeoutMs }) {
  return new Promise((resolve) => {
    const child = cp.spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    let state = 'starting';
    const finish = (res) => { if (state === 'done') return; state = 'done'; clearTimeout(t1); clearTimeout(t2); resolve({ ...res, ...out }); };
    let t2 = null;
    const t1 = setTimeout(() => { child.kill('SIGKILL'); finish({ ok: false, why: `not ready within ${readyTimeoutMs / 1000} s` }); }, readyTimeoutMs);
    const onData = (which) => (d) => {
      out[which] += d;
      if (state === 'starting' && which === stream && out[which].split('\n').some((l) => ready(l))) {
        state = 'stopping';
        clearTimeout(t1);
        child.kill('SIGTERM');
        t2 = setTimeout(() => { child.kill('SIGKILL'); finish({ ok: false, why: `still running ${stopTimeoutMs / 1000} s after SIGTERM` }); }, stopTimeoutMs);
      }
    };
    child.stdout.on('data', onData('stdout'));
    child.stderr.on('data', onData('stderr'));
    child.on('error', (e) => finish({ ok: false, why: `cannot start: ${e.message}` }));
    child.on('close', (code, sig) => {
      if (state === 'starting') finish({ ok: false, why: `exited (${code ?? sig}) before becoming ready` });
      else if (code !== 0) finish({ ok: false, why: `exit ${code ?? sig} after SIGTERM, want 0` });
      else finish({ ok: true });
    });
  });
}
const tail = (s, n = 4) => s.trim().split('\n').slice(-n).join(' | ');
const jsonEvent = (name) => (l) => { try { return JSON.parse(l).event === name; } catch (e) { return false; } };

async function liveServer(info, ctx, tag) {
  const { report, where } = ctx;
  const bin = findBin('reitunneld');
  if (!bin) { report.note(where, 'reitunneld is not built (--bin-dir): live config check skipped'); return; }
  if (!info.config || !info.server) return;
  const cfg = JSON.parse(JSON.stringify(info.config));
  // Hooks: same fields, addresses on a closed loopback port. gRPC connects
  // lazily and no hook is asked anything at start unless it subscribes to
  // server_start, which the live run reports.
  for (const h of cfg.hooks || []) {
    if ((h.events || []).includes('server_start') && h.failure_policy !== 'fail_open') report.note(where, `hook ${h.name} vetoes server start: the server will not start while it is down`);
    h.address = `dns:///127.0.0.1:${await closedPort()}`;
  }
  const needsTls = (info.files || []).length > 0;
  if (needsTls) {
    const t = throwawayTls();
    if (!t) { report.note(where, 'openssl missing: live check skipped (the config names TLS files)'); return; }
    const sub = (o, k, v) => { if (o && o[k]) o[k] = v; };
    for (const o of [cfg.tls, cfg.admin_api]) { sub(o, 'cert_file', t.crt); sub(o, 'key_file', t.key); sub(o, 'client_ca_file', t.crt); }
    for (const h of cfg.hooks || []) { sub(h.tls, 'ca_file', t.crt); sub(h.tls, 'cert_file', t.crt); sub(h.tls, 'key_file', t.key); }
  }
  const dir = path.join(WORK, 'live', tag);
  fs.mkdirSync(dir, { recursive: true });
  const cfgFile = path.join(dir, 'server.yaml');
  fs.writeFileSync(cfgFile, YAML.stringify(cfg));
  const args = [];
  for (const a of info.server.c.args || []) {
    if (a.startsWith('--config=')) args.push(`--config=${cfgFile}`);
    else if (!/^--(listen|admin|metrics|log-format|tls-cert|tls-key|tls-client-ca)=/.test(a)) args.push(a);
  }
  args.push('--listen=127.0.0.1:0', '--admin=127.0.0.1:0', '--log-format=json');
  if (cfg.metrics || K.flagValue(info.server.c.args, 'metrics')) args.push(`--metrics=127.0.0.1:${await freePort()}`);
  const env = { PATH: process.env.PATH };
  for (const k of ['ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k]) env[k] = process.env[k];
  for (const e of info.server.c.env || []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if ((e.valueFrom || {}).secretKeyRef) env[e.name] = `live-check-${e.name.toLowerCase()}-0123456789abcdef`;
  }
  const drain = ((cfg.timeouts || {}).drain_ms) || DEFAULT_DRAIN_MS;
  const r = await runUntilReady(bin, args, env, { ready: jsonEvent('agent_listener_ready'), stream: 'stderr', readyTimeoutMs: 30000, stopTimeoutMs: drain + 15000 });
  if (r.ok) report.ok(where, `reitunneld started with the rendered server.yaml and exited 0 on SIGTERM`);
  else report.error(where, `live: reitunneld with the rendered server.yaml ${r.why}: ${tail(r.stderr)}`);
}

async function liveHooks(info, ctx, tag) {
  const { report, where } = ctx;
  for (const h of info.hooks) {
    const name = path.basename((h.c.command || [])[0] || '');
    const bin = name && findBin(name);
    const hw = `${where} ${id(h.ws.obj)}`;
    if (!bin) { report.note(hw, `${name || '(no command)'} is not built: live check skipped`); continue; }
    const dir = path.join(WORK, 'live', tag, h.ws.name);
    fs.mkdirSync(dir, { recursive: true });
    const args = [];
    let bad = false;
    for (const a of h.c.args || []) {
      if (a.startsWith('--listen=')) { args.push('--listen=127.0.0.1:0'); continue; }
      const m = /^(--[\w-]+=)(\/.*)$/.exec(a);
      const mount = m && (h.c.volumeMounts || []).find((vm) => m[2].startsWith(vm.mountPath.replace(/\/$/, '') + '/'));
      if (mount) {
        const r = mountedFile(h.ws, h.c, m[2], ctx);
        if (r.error || r.content === null || r.content === undefined) { report.note(hw, `live check skipped: cannot materialise ${m[2]}`); bad = true; break; }
        const f = path.join(dir, path.basename(m[2]));
        fs.writeFileSync(f, r.content);
        args.push(m[1] + f);
      } else args.push(a);
    }
    if (bad) continue;
    const env = { PATH: process.env.PATH };
    for (const k of ['ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k]) env[k] = process.env[k];
    const r = await runUntilReady(bin, args, env, { ready: jsonEvent('listening'), stream: 'stdout', readyTimeoutMs: 20000, stopTimeoutMs: 15000 });
    if (r.ok) report.ok(hw, `${[name, ...(h.c.args || []).filter((a) => !a.startsWith('--listen='))].join(' ')} starts and stops cleanly`);
    else report.error(hw, `live: ${name} with the container's arguments ${r.why}: ${tail(r.stderr + r.stdout)}`);
  }
}

// ---------------------------------------------------------------- one target
async function checkTarget({ dir, where, report, externalFile, live, docker, tag }) {
  const r = render(dir);
  if (r.error) { report.error(where, r.error); return; }
  report.ok(where, `rendered ${r.objs.length} objects`);
  const ctx = { report, where, objs: r.objs, externalSecrets: [], hookServiceName: hookServiceName(), docker };
  if (externalFile && fs.existsSync(externalFile)) {
    try { ctx.externalSecrets = parseYamlDocs(externalFile); } catch (e) { report.error(where, e.message); }
    for (const s of ctx.externalSecrets) {
      if (s.kind !== 'Secret') report.error(`${where} secrets.example.yaml`, `${id(s)} is not a Secret`);
      validateSchema(s, `${where} secrets.example.yaml`, report);
    }
  }
  for (const o of r.objs) validateSchema(o, where, report);
  apiServerRules(r.objs, where, report);
  const info = projectChecks(r.objs, ctx);
  if (live) await Promise.all([liveServer(info, ctx, tag), liveHooks(info, ctx, tag)]);
}

let hookSvcCache;
function hookServiceName() {
  if (hookSvcCache !== undefined) return hookSvcCache;
  const f = path.join(SRC, 'hookd-sdk', 'src', 'hook_server.cc');
  const m = fs.existsSync(f) && /kServiceName\[\]\s*=\s*"([^"]+)"/.exec(fs.readFileSync(f, 'utf8'));
  hookSvcCache = m ? m[1] : null;
  return hookSvcCache;
}

function relFrom(dir, target) { return path.relative(dir, target).split(path.sep).join('/'); }

function dockerInfo(report) {
  const { images } = lintDockerfiles({ sourceDir: SRC, binDirs: opts.binDirs, report, knownPending: PENDING_PROGRAMS });
  const hookBinaries = new Set();
  for (const [f, im] of Object.entries(images)) {
    if (!im.stages || !im.stages.length) continue;
    const last = im.stages[im.stages.length - 1];
    if ((last.binaries || []).some((b) => /-hook$/.test(b))) for (const b of last.binaries) hookBinaries.add(b);
  }
  return { hookBinaries };
}

// ---------------------------------------------------------------- main
(async () => {
  const t0 = Date.now();
  const report = new Report(false);
  console.log(`deploy.manifests: kubectl ${which(KUBECTL)} (kustomize ${kustomizeVersion}), node ${process.version}, bin dirs: ${opts.binDirs.join(':') || '(none)'}`);

  console.log('== deploy/docker');
  const docker = dockerInfo(report);

  const overlaysDir = path.join(K8S_DIR, 'overlays');
  const overlays = fs.existsSync(overlaysDir) ? fs.readdirSync(overlaysDir).filter((d) => fs.existsSync(path.join(overlaysDir, d, 'kustomization.yaml'))).sort() : [];
  if (!overlays.length) report.error('deploy/kubernetes', 'no overlays');
  for (const o of overlays) {
    console.log(`== overlay ${o}`);
    await checkTarget({ dir: path.join(overlaysDir, o), where: `overlays/${o}`, report, externalFile: path.join(overlaysDir, o, 'secrets.example.yaml'), live: true, docker, tag: `overlay-${o}` });
  }

  // Components, each on top of the first overlay that does not use it.
  const compDir = path.join(K8S_DIR, 'components');
  const comps = fs.existsSync(compDir) ? fs.readdirSync(compDir).filter((d) => fs.existsSync(path.join(compDir, d, 'kustomization.yaml'))).sort() : [];
  for (const c of comps) {
    const baseOverlay = overlays.find((o) => !fs.readFileSync(path.join(overlaysDir, o, 'kustomization.yaml'), 'utf8').includes(`components/${c}`));
    if (!baseOverlay) { console.log(`== component ${c}: used by every overlay, checked there`); continue; }
    console.log(`== component ${c} (on overlays/${baseOverlay})`);
    const dir = path.join(WORK, 'components', c);
    fs.mkdirSync(dir, { recursive: true });
    // The overlay's namespace applies to what the component adds, as it would
    // if the overlay listed the component itself.
    const baseNs = (YAML.parse(fs.readFileSync(path.join(overlaysDir, baseOverlay, 'kustomization.yaml'), 'utf8')) || {}).namespace;
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${baseNs ? `namespace: ${baseNs}\n` : ''}resources:\n  - ${relFrom(dir, path.join(overlaysDir, baseOverlay))}\ncomponents:\n  - ${relFrom(dir, path.join(compDir, c))}\n`);
    await checkTarget({ dir, where: `components/${c}`, report, externalFile: path.join(overlaysDir, baseOverlay, 'secrets.example.yaml'), live: false, docker, tag: `component-${c}` });
  }

  // Negative self-checks: each fixture must be rejected for its stated reason.
  console.log('== negative self-checks (tests/deploy/fixtures)');
  const negatives = [];
  const objDir = path.join(FIXTURES, 'objects');
  for (const f of fs.existsSync(objDir) ? fs.readdirSync(objDir).filter((x) => x.endsWith('.yaml')).sort() : []) {
    negatives.push({ name: `objects/${f}`, file: path.join(objDir, f), run: async (rep) => { for (const o of parseYamlDocs(path.join(objDir, f))) { validateSchema(o, f, rep); apiServerRules([o], f, rep); } } });
  }
  const ovDir = path.join(FIXTURES, 'overlays');
  for (const d of fs.existsSync(ovDir) ? fs.readdirSync(ovDir).sort() : []) {
    const kf = path.join(ovDir, d, 'kustomization.yaml');
    if (!fs.existsSync(kf)) continue;
    const live = /#\s*needs:\s*reitunneld/.test(fs.readFileSync(kf, 'utf8'));
    negatives.push({ name: `overlays/${d}`, file: kf, run: (rep) => checkTarget({ dir: path.join(ovDir, d), where: d, report: rep, externalFile: path.join(ovDir, d, 'secrets.example.yaml'), live, docker, tag: `fixture-${d}` }) });
  }
  // Dockerfiles: each linted alone (with its .dockerignore) against this tree.
  const dfDir = path.join(FIXTURES, 'docker');
  for (const f of fs.existsSync(dfDir) ? fs.readdirSync(dfDir).filter((x) => x.endsWith('.Dockerfile')).sort() : []) {
    negatives.push({ name: `docker/${f}`, file: path.join(dfDir, f), run: async (rep) => lintFixtureDocker(dfDir, f, rep) });
  }
  if (negatives.length < 3) report.error('tests/deploy/fixtures', 'the negative self-checks are missing');
  // Quiet reports, so they can run side by side; results print in order.
  const results = new Array(negatives.length);
  let next = 0;
  const worker = async () => {
    while (next < negatives.length) {
      const i = next++;
      const n = negatives[i];
      const text = fs.readFileSync(n.file, 'utf8');
      const expect = [...text.matchAll(/#\s*expect:\s*(.+)$/gm)].map((m) => m[1].trim());
      const needsLive = /#\s*needs:\s*reitunneld/.test(text);
      if (!expect.length) { results[i] = { n, fail: 'fixture has no "# expect:" line' }; continue; }
      if (needsLive && !findBin('reitunneld')) { results[i] = { n, skip: 'needs reitunneld, not built: skipped' }; continue; }
      const rep = new Report(true);
      try { await n.run(rep); } catch (e) { rep.error(n.name, `check crashed: ${e.message}`); }
      results[i] = { n, expect, rep };
    }
  };
  await Promise.all([1, 2, 3, 4].map(worker));
  for (const { n, fail, skip, expect, rep } of results) {
    if (fail) { report.error(n.name, fail); continue; }
    if (skip) { report.note(n.name, skip); continue; }
    const missing = expect.filter((e) => !rep.errors.some((x) => x.includes(e)));
    if (!rep.errors.length) report.error(n.name, `broken fixture was ACCEPTED (wanted: ${expect.join('; ')})`);
    else if (missing.length) report.error(n.name, `rejected, but not for "${missing.join('", "')}"; errors: ${rep.errors.slice(0, 4).join(' || ')}`);
    else report.ok(n.name, `rejected: ${rep.errors.find((x) => x.includes(expect[0])).slice(0, 160)}`);
  }

  const dt = ((Date.now() - t0) / 1000).toFixed(1);
  if (report.errors.length) {
    console.log(`\ndeploy.manifests: FAILED with ${report.errors.length} error(s) in ${dt} s:`);
    for (const e of report.errors) console.log(`  - ${e}`);
    process.exit(1);
  }
  console.log(`\ndeploy.manifests: OK (${overlays.length} overlays, ${comps.length} components, ${negatives.length} negative checks) in ${dt} s`);
})().catch((e) => { console.error(e.stack || e); process.exit(1); });

// Lints one fixture Dockerfile (and its .dockerignore) against this tree.
function lintFixtureDocker(dir, file, rep) {
  const tmp = path.join(WORK, 'docker-fixtures', file);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const f of [file, `${file}.dockerignore`]) if (fs.existsSync(path.join(dir, f))) fs.copyFileSync(path.join(dir, f), path.join(tmp, f));
  lintDockerfiles({ sourceDir: SRC, dockerDir: tmp, binDirs: opts.binDirs, report: rep, knownPending: PENDING_PROGRAMS });
}
