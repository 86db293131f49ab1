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
//    Cluster mode: RollingUpdate (maxUnavailable 1, maxSurge 0|1) instead of
//    Recreate, spread by node, PDB one replica at a time; cluster.endpoints
//    resolve to the rendered etcd (Service or members under its governing
//    Service); the etcd StatefulSet has an odd member count, an
//    initial-cluster of exactly its members, /health readiness, a quorum-
//    keeping PDB and a NetworkPolicy giving 2379 to reitunneld only and 2380
//    to members only. "# deploy-check: ha" (overlays/production) adds: >= 3
//    replicas, required node anti-affinity, etcd >= 3 members on PVCs.
// 4. Live checks, when the binaries are built (--bin-dir or REITUNNEL_BIN_DIR,
//    colon-separated): the rendered server.yaml starts the real reitunneld
//    (hook addresses pointed at a closed loopback port, TLS files replaced by
//    a throwaway certificate) which must log agent_listener_ready and exit 0 on
//    SIGTERM; in cluster mode (server.yaml cluster:) the endpoints are
//    replaced by a throwaway one-member etcd (/usr/bin/etcd on free loopback
//    ports) and the server must log server_ready (joined) first; each hook
//    container's command line starts the real hook binary.
// 5. Lints deploy/docker (lib/dockerfile.js).
// 5b. deploy/kubernetes/agent: the same schema and security checks, the
//    agent's own rules (no ports, probes or API token, one replica, token from
//    a Secret, config in a ConfigMap) and, live, the rendered agent.yaml run
//    by the real reitunnel against a real reitunneld on loopback.
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
const AGENT_IMAGE = 'reitunnel';
// etcd for cluster mode: the upstream image (quay.io/coreos/etcd or
// gcr.io/etcd-development/etcd), pinned to a v3.x tag.
const ETCD_IMAGE = 'etcd';
const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;
const AGENT_DIR = path.join(K8S_DIR, 'agent');
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
      podSpecRules(tpl.spec || {}, w, report, ((o.spec || {}).volumeClaimTemplates || []).map((t) => (t.metadata || {}).name));
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

function podSpecRules(ps, w, report, claimNames = []) {
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
    for (const m of c.volumeMounts || []) if (!(ps.volumes || []).some((v) => v.name === m.name) && !claimNames.includes(m.name)) report.error(w, `${c.name}: volumeMount ${m.name} has no volume`);
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

// One namespace for everything namespaced, and its Namespace object; returns it.
function namespaceChecks(objs, where, report) {
  const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'IngressClass']);
  for (const o of objs) if (!CLUSTER_SCOPED.has(o.kind) && !(o.metadata || {}).namespace) report.error(`${where} ${id(o)}`, 'has no namespace: it would land in kubectl\'s current namespace');
  const namespaces = new Set(objs.map((o) => (o.metadata || {}).namespace).filter(Boolean));
  if (namespaces.size !== 1) report.error(where, `objects span namespaces ${[...namespaces].join(', ') || '(none)'}; an overlay deploys into one`);
  const ns = [...namespaces][0];
  const nsObj = objs.find((o) => o.kind === 'Namespace');
  if (!nsObj || nsObj.metadata.name !== ns) report.error(where, `no Namespace object for ${ns}`);
  return ns;
}

// Every container: probes (unless the workload serves no port), resources,
// the restricted security context, pinned images.
function containerChecks(ws, where, report, { probes }) {
  for (const w of ws) {
    const ww = `${where} ${id(w.obj)}`;
    const psc = w.spec.securityContext || {};
    if (w.spec.hostPID || w.spec.hostIPC) report.error(ww, 'hostPID/hostIPC');
    for (const c of [...(w.spec.initContainers || []), ...(w.spec.containers || [])]) {
      const cw = `${ww} container ${c.name}`;
      const isInit = (w.spec.initContainers || []).includes(c);
      if (!isInit) {
        if (probes) for (const pr of ['readinessProbe', 'livenessProbe']) if (!c[pr]) report.error(cw, `no ${pr}`);
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

}

// Mounted files readable by the non-root user; every Secret and ConfigMap
// referenced exists (rendered, or listed in secrets.example.yaml) with its keys.
function volumeAndRefChecks(objs, ws, ctx, ns) {
  const { report, where } = ctx;
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

}

function projectChecks(objs, ctx) {
  const { report, where } = ctx;
  const info = { server: null, hooks: [], config: null, configText: null };
  const ws = workloads(objs);
  const ns = namespaceChecks(objs, where, report);

  containerChecks(ws, where, report, { probes: true });

  // --- images
  const servers = [];
  const hooks = [];
  const etcds = [];
  for (const w of ws) for (const c of w.spec.containers || []) {
    if (imageBase(c.image) === SERVER_IMAGE) servers.push({ ws: w, c });
    else if (imageBase(c.image) === HOOKS_IMAGE) hooks.push({ ws: w, c });
    else if (imageBase(c.image) === ETCD_IMAGE) {
      etcds.push({ ws: w, c });
      if (!/^v3\.\d+\.\d+$/.test(imageTag(c.image) || '')) report.error(`${where} ${id(w.obj)}`, `container ${c.name} runs ${c.image}: pin an etcd v3.x.y release tag`);
    } else report.error(`${where} ${id(w.obj)}`, `container ${c.name} runs ${c.image}, neither ${SERVER_IMAGE} nor ${HOOKS_IMAGE} (nor the etcd image)`);
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
  const serverReplicas = S.ws.obj.spec.replicas ?? 1;
  const strategy = ((S.ws.obj.spec || {}).strategy || {}).type || 'RollingUpdate';
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

  // --- replicas, rollout, cluster mode
  const clusterEndpoints = [...((cfg.cluster || {}).endpoints || [])];
  const flagEtcd = K.flagValue(sargs, 'cluster-etcd');
  if (flagEtcd) clusterEndpoints.push(...flagEtcd.split(',').filter(Boolean));
  info.clustered = clusterEndpoints.length > 0;
  if (!info.clustered) {
    // Standalone: a tunnel is in-process state of the one server.
    if (serverReplicas !== 1) report.error(sw, `replicas ${serverReplicas} without cluster mode (server.yaml cluster.endpoints): a standalone server is one per tunnel namespace`);
    if (strategy !== 'Recreate') report.error(sw, `strategy ${strategy} without cluster mode: the old server must release the public ports before the new one binds them (Recreate)`);
    if (ctx.ha) report.error(sw, 'the HA overlay runs without cluster mode (server.yaml cluster.endpoints)');
  } else {
    const ru = ((S.ws.obj.spec || {}).strategy || {}).rollingUpdate || {};
    if (strategy === 'Recreate') report.error(sw, `strategy Recreate with ${serverReplicas} replica(s) in cluster mode stops every replica at once and drops every tunnel; use RollingUpdate with maxUnavailable 1`);
    else {
      if (ru.maxUnavailable !== 1) report.error(sw, `rollingUpdate.maxUnavailable ${ru.maxUnavailable ?? '25% (default)'}: replace replicas one at a time (maxUnavailable 1)`);
      if (![0, 1].includes(ru.maxSurge)) report.error(sw, `rollingUpdate.maxSurge ${ru.maxSurge ?? '25% (default)'}: set 0 or 1 explicitly`);
      else if (ru.maxSurge === 0 && ru.maxUnavailable === 0) report.error(sw, 'maxSurge 0 and maxUnavailable 0: the rollout cannot progress');
      else report.ok(sw, `RollingUpdate maxUnavailable ${ru.maxUnavailable} maxSurge ${ru.maxSurge} over ${serverReplicas} replica(s)`);
    }
    if (ctx.ha && serverReplicas < 3) report.error(sw, `replicas ${serverReplicas}: the HA overlay needs at least 3 reitunneld replicas`);
    const spread = spreadByHost(S.ws);
    if (serverReplicas > 1 && !spread.any) report.error(sw, `${serverReplicas} replicas with no pod anti-affinity or topology spread on kubernetes.io/hostname: one node could hold them all`);
    if (ctx.ha && !spread.required) report.error(sw, 'the HA overlay needs required pod anti-affinity (or a DoNotSchedule topology spread, maxSkew 1) on kubernetes.io/hostname for reitunneld');
    if (S.ws.spec.hostNetwork && serverReplicas > 1 && !spread.required) report.error(sw, `hostNetwork with ${serverReplicas} replicas needs required anti-affinity on kubernetes.io/hostname: two replicas on one node would fight over its ports`);
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

  volumeAndRefChecks(objs, ws, ctx, ns);

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
      if (target === agentPort) {
        if (external) agentExposed = true;
        // Agents reach every replica by dialling this one address again.
        if (info.clustered && (s.spec || {}).sessionAffinity === 'ClientIP') report.error(`${where} ${sp}`, 'sessionAffinity ClientIP pins each agent to one replica; in cluster mode an agent must reach every replica through the agent Service');
      }
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

  // --- etcd (cluster mode)
  etcdChecks(objs, ctx, { S, cw, endpoints: clusterEndpoints, ns, etcds, ws });

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
      // A standalone server may block drains on purpose (an operator moves it).
      if (pdb.spec.minAvailable !== undefined && Number(pdb.spec.minAvailable) >= replicas && (w !== S.ws || info.clustered)) report.error(`${where} ${id(pdb)}`, `minAvailable ${pdb.spec.minAvailable} with ${replicas} replica(s) blocks every node drain`);
      if (w === S.ws && info.clustered && replicas > 1) {
        const d = pdbDisruptions(pdb, replicas);
        if (d === null) report.error(`${where} ${id(pdb)}`, 'use an integer minAvailable or maxUnavailable for the server');
        else if (d > 1) report.error(`${where} ${id(pdb)}`, `lets ${d} of ${replicas} replicas go at once; one at a time (maxUnavailable 1 / minAvailable ${replicas - 1})`);
        else if (d === 1) report.ok(`${where} ${id(pdb)}`, `one of ${replicas} replicas at a time`);
      }
    }
  }
  return info;
}

// How many pods a PDB lets go at once (null: a percentage).
function pdbDisruptions(pdb, replicas) {
  const s = pdb.spec || {};
  if (typeof s.maxUnavailable === 'number') return s.maxUnavailable;
  if (typeof s.minAvailable === 'number') return replicas - s.minAvailable;
  return null;
}

// Pod anti-affinity or topology spread of a workload's own pods by node.
const HOST_KEY = 'kubernetes.io/hostname';
function spreadByHost(w) {
  const own = (sel) => !!sel && K.selectorMatches(sel, w.labels);
  const aa = (w.spec.affinity || {}).podAntiAffinity || {};
  const req = (aa.requiredDuringSchedulingIgnoredDuringExecution || []).some((t) => t.topologyKey === HOST_KEY && own(t.labelSelector));
  const pref = (aa.preferredDuringSchedulingIgnoredDuringExecution || []).some((p) => p.podAffinityTerm && p.podAffinityTerm.topologyKey === HOST_KEY && own(p.podAffinityTerm.labelSelector));
  const tsc = (w.spec.topologySpreadConstraints || []).filter((t) => t.topologyKey === HOST_KEY && own(t.labelSelector));
  const hard = tsc.some((t) => t.whenUnsatisfiable === 'DoNotSchedule' && t.maxSkew === 1);
  return { required: req || hard, any: req || pref || tsc.length > 0 };
}

// Expands $(VAR) as the kubelet does, from the container's env: literal
// values, metadata.namespace and metadata.name (given per member).
function expandEnv(str, c, ns, podName) {
  const vars = {};
  for (const e of c.env || []) {
    const f = ((e.valueFrom || {}).fieldRef || {}).fieldPath;
    if (e.value !== undefined) vars[e.name] = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in vars ? vars[v] : m));
    else if (f === 'metadata.namespace') vars[e.name] = ns;
    else if (f === 'metadata.name') vars[e.name] = podName;
  }
  return String(str).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in vars ? vars[v] : m));
}
// etcd's setting from its flag (--name=VALUE) or its env var (ETCD_NAME).
function etcdSetting(c, flag) {
  const f = K.flagValue(c.args || [], flag) || K.flagValue(c.command || [], flag);
  if (f !== null && f !== undefined) return f;
  const e = (c.env || []).find((x) => x.name === `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`);
  return e && e.value !== undefined ? e.value : null;
}
const urlPort = (u) => { const m = /^(https?):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(u || ''); return m ? { scheme: m[1], host: m[2], port: Number(m[3]) } : null; };

// Cluster mode: the server's etcd endpoints resolve to the rendered etcd,
// whose StatefulSet bootstraps exactly its members, keeps a quorum through
// disruptions, and is reachable on its client port only from the server.
function etcdChecks(objs, ctx, { S, cw, endpoints, ns, etcds, ws }) {
  const { report, where } = ctx;
  const stsList = [...new Set(etcds.map((e) => e.ws))];
  if (!endpoints.length) {
    for (const w of stsList) report.error(`${where} ${id(w.obj)}`, 'etcd is rendered but the server is not in cluster mode (server.yaml cluster.endpoints)');
    return;
  }
  if (!stsList.length) report.note(where, 'cluster mode with an etcd that this overlay does not render: endpoints not checked against it');
  if (stsList.length > 1) report.error(where, `${stsList.length} etcd workloads; the server uses one etcd cluster`);
  const svcs = objs.filter((o) => o.kind === 'Service' && o.metadata.namespace === ns);

  for (const E of etcds) {
    const w = E.ws; const c = E.c; const ew = `${where} ${id(w.obj)}`;
    if (w.obj.kind !== 'StatefulSet') { report.error(ew, 'etcd should be a StatefulSet (stable member names and volumes)'); continue; }
    const n = w.obj.spec.replicas ?? 1;
    if (n % 2 === 0) report.error(ew, `etcd StatefulSet has ${n} members: quorum ${n / 2 + 1}, so it survives ${(n - 2) / 2} failure(s), no more than ${n - 1} members would; use an odd number`);
    if (ctx.ha && n < 3) report.error(ew, `${n} etcd member(s): the HA overlay needs at least 3 (one may fail)`);
    if (n > 1 && w.obj.spec.podManagementPolicy !== 'Parallel') report.error(ew, 'podManagementPolicy is not Parallel: a member is Ready only with a quorum, so OrderedReady never creates the second member');
    if (ctx.ha && !spreadByHost(w).required) report.error(ew, 'the HA overlay needs required pod anti-affinity on kubernetes.io/hostname for etcd: two members on one node lose the quorum with it');
    const portOf = (name, want) => {
      const p = (c.ports || []).find((x) => x.name === name);
      if (!p) { report.error(ew, `no containerPort named ${name}`); return want; }
      if (p.containerPort !== want) report.error(ew, `containerPort ${name} is ${p.containerPort}, etcd's ${name} port is ${want}`);
      return p.containerPort;
    };
    const clientPort = portOf('client', ETCD_CLIENT_PORT);
    const peerPort = portOf('peer', ETCD_PEER_PORT);
    const lc = (etcdSetting(c, 'listen-client-urls') || '').split(',').map(urlPort);
    if (!lc.length || lc.some((u) => !u || u.port !== clientPort)) report.error(ew, `--listen-client-urls ${etcdSetting(c, 'listen-client-urls')} does not listen on the client port ${clientPort}`);
    const clientScheme = (lc[0] || {}).scheme || 'http';
    const lp = (etcdSetting(c, 'listen-peer-urls') || '').split(',').map(urlPort);
    if (!lp.length || lp.some((u) => !u || u.port !== peerPort)) report.error(ew, `--listen-peer-urls ${etcdSetting(c, 'listen-peer-urls')} does not listen on the peer port ${peerPort}`);
    if (lc.concat(lp).some((u) => u && /^(127\.|localhost$)/.test(u.host))) report.error(ew, 'etcd listens on loopback: peers and the server reach the pod IP');
    const rp = c.readinessProbe || {};
    if (!(rp.httpGet && rp.httpGet.path === '/health' && (rp.httpGet.port === clientPort || rp.httpGet.port === 'client'))) report.error(ew, `readinessProbe is not httpGet /health on the client port ${clientPort}`);
    // Data on a volume; in the HA overlay on a PersistentVolumeClaim.
    const dataDir = etcdSetting(c, 'data-dir');
    if (!dataDir) report.error(ew, 'no --data-dir');
    else {
      const mounts = (c.volumeMounts || []).filter((m) => (dataDir + '/').startsWith(m.mountPath.replace(/\/$/, '') + '/')).sort((a, b) => b.mountPath.length - a.mountPath.length);
      const m = mounts[0];
      const claim = m && (w.obj.spec.volumeClaimTemplates || []).some((t) => t.metadata.name === m.name);
      if (!m) report.error(ew, `--data-dir ${dataDir} is on the read-only root filesystem (no volumeMount)`);
      else if (ctx.ha && !claim) report.error(ew, `--data-dir ${dataDir} is not on a PersistentVolumeClaim: the HA overlay's etcd must keep its data when a pod moves`);
    }
    // The governing headless Service gives each member its DNS name.
    const govName = w.obj.spec.serviceName;
    const gov = svcs.find((x) => x.metadata.name === govName);
    if (!gov) report.error(ew, `serviceName ${govName}: no such Service rendered`);
    else {
      if ((gov.spec || {}).clusterIP !== 'None') report.error(ew, `Service ${govName} is not headless: members would get no DNS names`);
      if (!(gov.spec || {}).publishNotReadyAddresses && n > 1) report.error(ew, `Service ${govName} does not publishNotReadyAddresses: members cannot find each other before a quorum makes them Ready`);
      if (!K.mapSelectorMatches((gov.spec || {}).selector, w.labels)) report.error(ew, `Service ${govName} does not select the etcd pods`);
      if (!((gov.spec || {}).ports || []).some((p) => p.port === peerPort)) report.error(ew, `Service ${govName} has no peer port ${peerPort}`);
    }
    // initial-cluster: exactly the members, at their peer URLs.
    const ic = etcdSetting(c, 'initial-cluster');
    const memberHost = (m) => new Set([`${m}.${govName}`, `${m}.${govName}.${ns}`, `${m}.${govName}.${ns}.svc`, `${m}.${govName}.${ns}.svc.cluster.local`]);
    if (!ic) report.error(ew, 'no --initial-cluster (or ETCD_INITIAL_CLUSTER)');
    else {
      const want = Array.from({ length: n }, (_, i) => `${w.name}-${i}`);
      const entries = expandEnv(ic, c, ns, '$(POD_NAME)').split(',').map((x) => { const k = x.indexOf('='); return [x.slice(0, k), x.slice(k + 1)]; });
      const names = entries.map((e) => e[0]);
      const extra = names.filter((x) => !want.includes(x));
      const missing = want.filter((x) => !names.includes(x));
      if (extra.length || missing.length || names.length !== new Set(names).size) {
        report.error(ew, `initial-cluster lists ${names.join(', ') || '(none)'} but the StatefulSet has ${n} member(s) ${want.join(', ')}`);
      } else report.ok(ew, `initial-cluster lists exactly the ${n} member(s)`);
      for (const [name, url] of entries) {
        if (!want.includes(name)) continue;
        const u = urlPort(url);
        if (!u || u.port !== peerPort || !memberHost(name).has(u.host)) { report.error(ew, `initial-cluster ${name}=${url} is not ${name}'s peer URL (http://${name}.${govName}.${ns}.svc.cluster.local:${peerPort})`); continue; }
        const adv = expandEnv(etcdSetting(c, 'initial-advertise-peer-urls') || '', c, ns, name);
        if (!adv.split(',').includes(url)) report.error(ew, `member ${name} would advertise ${adv || '(nothing)'}, but initial-cluster names it ${url}: etcd refuses to start`);
        const nm = expandEnv(etcdSetting(c, 'name') || 'default', c, ns, name);
        if (nm !== name) report.error(ew, `member ${name} would be named ${nm} (--name=$(POD_NAME))`);
      }
    }
    // Disruptions keep a quorum.
    const quorum = Math.floor(n / 2) + 1;
    for (const pdb of objs.filter((o) => o.kind === 'PodDisruptionBudget' && o.metadata.namespace === w.ns && K.selectorMatches((o.spec || {}).selector, w.labels))) {
      const d = pdbDisruptions(pdb, n);
      if (n >= 3 && (d === null || d > n - quorum)) report.error(`${where} ${id(pdb)}`, `lets ${d === null ? 'a percentage' : d} of ${n} etcd members go at once; the quorum needs ${quorum} (maxUnavailable ${n - quorum})`);
    }
    // NetworkPolicy: client port from the server only, peer port between members only.
    const pols = policiesFor(objs, w.ns, w.labels);
    if (!pols.length) { report.error(ew, `no NetworkPolicy selects the etcd pods: anything in the cluster could reach etcd's client port ${clientPort}`); continue; }
    const onlyFrom = (port, what, target, targetName) => {
      let ok = false;
      for (const { pol, r } of rulesAllowing(pols, port, c.ports || [])) {
        const pw = `${where} ${id(pol)}`;
        if (!r.from || !r.from.length) { report.error(pw, `opens etcd's ${what} port ${port} to everyone`); continue; }
        for (const peer of r.from) {
          if (peer.ipBlock || peer.namespaceSelector || !peer.podSelector) { report.error(pw, `opens etcd's ${what} port ${port} beyond ${targetName} (${Object.keys(peer).join(', ')})`); continue; }
          if (!Object.keys(peer.podSelector.matchLabels || {}).length && !(peer.podSelector.matchExpressions || []).length) { report.error(pw, `opens etcd's ${what} port ${port} to every pod of the namespace`); continue; }
          const matched = ws.filter((o) => o.ns === w.ns && K.selectorMatches(peer.podSelector, o.labels));
          const others = matched.filter((o) => o !== target);
          if (others.length) { report.error(pw, `opens etcd's ${what} port ${port} to ${others.map((o) => id(o.obj)).join(', ')}, not only ${targetName}`); continue; }
          if (matched.includes(target)) ok = true;
        }
      }
      return ok;
    };
    if (!onlyFrom(clientPort, 'client', S.ws, 'the reitunneld pods')) report.error(ew, `NetworkPolicy does not let reitunneld reach etcd's client port ${clientPort}`);
    else report.ok(ew, `client port ${clientPort} open to reitunneld only`);
    if (!onlyFrom(peerPort, 'peer', w, 'the etcd members') && n > 1) report.error(ew, `NetworkPolicy does not let the etcd members reach each other's peer port ${peerPort}`);
    E.clientScheme = clientScheme;
  }

  // The server's endpoints: the etcd Service, or members under its governing Service.
  const covered = new Map();
  for (const url of endpoints) {
    const uw = `${cw} cluster.endpoints ${url}`;
    const u = urlPort(url);
    if (!u) { report.error(uw, 'is not http(s)://HOST:PORT'); continue; }
    if (!stsList.length) continue;
    const hm = /^(?:([a-z0-9-]+)\.)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(u.host);
    if (!hm) { report.error(uw, 'host is not [MEMBER.]SERVICE.NAMESPACE.svc.cluster.local: it does not resolve to the rendered etcd Service'); continue; }
    const [, pod, svcName, svcNs] = hm;
    if (svcNs !== ns) { report.error(uw, `names namespace ${svcNs}, the overlay deploys to ${ns}`); continue; }
    const svc = svcs.find((x) => x.metadata.name === svcName);
    if (!svc) { report.error(uw, `no Service ${svcName} in the rendered output`); continue; }
    const targets = etcds.filter((e) => K.mapSelectorMatches((svc.spec || {}).selector, e.ws.labels));
    if (!targets.length) { report.error(uw, `Service ${svcName} selects no etcd pods`); continue; }
    const E = targets[0];
    const direct = pod || (svc.spec || {}).clusterIP === 'None';
    const sp = ((svc.spec || {}).ports || []).find((p) => p.port === u.port);
    if (!sp) report.error(uw, `Service ${svcName} has no port ${u.port}`);
    else {
      const tp = sp.targetPort === undefined ? sp.port : sp.targetPort;
      const tnum = typeof tp === 'string' ? ((E.c.ports || []).find((p) => p.name === tp) || {}).containerPort : tp;
      if (tnum !== ETCD_CLIENT_PORT) report.error(uw, `Service ${svcName} port ${u.port} targets ${tp}, not etcd's client port ${ETCD_CLIENT_PORT}`);
      else if (direct && u.port !== ETCD_CLIENT_PORT) report.error(uw, `a headless Service does not map ports: use the pods' client port ${ETCD_CLIENT_PORT}`);
    }
    if (E.clientScheme && u.scheme !== E.clientScheme) report.error(uw, `scheme ${u.scheme}, but etcd serves ${E.clientScheme}`);
    if (pod) {
      const n = E.ws.obj.spec.replicas ?? 1;
      const mm = new RegExp(`^${E.ws.name}-(\\d+)$`).exec(pod);
      if (E.ws.obj.spec.serviceName !== svcName) report.error(uw, `${pod}.${svcName}: member names exist only under the StatefulSet's serviceName (${E.ws.obj.spec.serviceName})`);
      else if (!mm || Number(mm[1]) >= n) report.error(uw, `${pod} is not a member of StatefulSet ${E.ws.name} (${n} replica(s))`);
      else { if (!covered.has(E)) covered.set(E, new Set()); covered.get(E).add(Number(mm[1])); }
    }
  }
  for (const [E, got] of covered) {
    const n = E.ws.obj.spec.replicas ?? 1;
    if (got.size < n) report.error(`${cw} cluster.endpoints`, `list ${got.size} of the ${n} etcd members: the server could not fail over to the others`);
    else report.ok(`${cw} cluster.endpoints`, `every etcd member of ${id(E.ws.obj)} listed`);
  }
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
  // Cluster mode: a real, throwaway one-member etcd (plain http on loopback)
  // replaces the endpoints; the server must join it (server_ready) before
  // it counts as started. etcd TLS and auth files are dropped: they name
  // in-cluster Secrets.
  let etcd = null;
  if (info.clustered) {
    etcd = await startEtcd(path.join(dir, 'etcd'));
    if (etcd.error) { report.error(where, `live: ${etcd.error}`); return; }
    cfg.cluster = { ...(cfg.cluster || {}), endpoints: [etcd.url] };
    for (const k of ['ca_file', 'cert_file', 'key_file', 'username', 'password_file', 'advertise_addr']) delete cfg.cluster[k];
    cfg.cluster.replica_id = `live-${tag}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);
  }
  try {
    await runLiveServer(bin, cfg, info, ctx, dir, !!etcd);
  } finally {
    if (etcd) await etcd.stop();
  }
}

// A one-member etcd on free loopback ports (etcd cannot bind port 0: ports
// are picked by binding 0 here first; retried if someone takes them).
async function startEtcd(dir) {
  const bin = which('etcd');
  if (!bin) return { error: 'etcd is not installed (Debian package etcd-server): the cluster-mode config cannot be run' };
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const cport = await freePort(); const pport = await freePort();
    if (cport === pport) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const curl = `http://127.0.0.1:${cport}`; const purl = `http://127.0.0.1:${pport}`;
    const p = startProc(bin, ['--name=live', `--data-dir=${path.join(dir, 'data')}`, `--listen-client-urls=${curl}`, `--advertise-client-urls=${curl}`,
      `--listen-peer-urls=${purl}`, `--initial-advertise-peer-urls=${purl}`, `--initial-cluster=live=${purl}`,
      '--heartbeat-interval=10', '--election-timeout=100', '--logger=zap', '--log-outputs=stderr', '--log-level=warn'], { PATH: process.env.PATH });
    const stop = async () => { await p.stop(5000); fs.rmSync(dir, { recursive: true, force: true }); };
    const end = Date.now() + 15000;
    while (Date.now() < end && !p.exited) {
      const ok = await new Promise((resolve) => {
        const req = require('http').get(`${curl}/health`, { timeout: 1000 }, (res) => {
          let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(/"health":\s*"true"/.test(b)));
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => { req.destroy(); resolve(false); });
      });
      if (ok) return { url: curl, stop };
      await new Promise((res) => setTimeout(res, 100));
    }
    last = tail(p.out);
    await stop();
  }
  return { error: `etcd did not become healthy: ${last}` };
}

async function runLiveServer(bin, cfg, info, ctx, dir, clustered) {
  const { report, where } = ctx;
  const cfgFile = path.join(dir, 'server.yaml');
  fs.writeFileSync(cfgFile, YAML.stringify(cfg));
  const args = [];
  for (const a of info.server.c.args || []) {
    if (a.startsWith('--config=')) args.push(`--config=${cfgFile}`);
    else if (!/^--(listen|admin|metrics|log-format|tls-cert|tls-key|tls-client-ca|cluster-etcd|cluster-replica-id)=/.test(a)) args.push(a);
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
  const r = await runUntilReady(bin, args, env, { ready: jsonEvent(clustered ? 'server_ready' : 'agent_listener_ready'), stream: 'stderr', readyTimeoutMs: 30000, stopTimeoutMs: drain + 15000 });
  if (r.ok) report.ok(where, `reitunneld started with the rendered server.yaml${clustered ? ', joined a real etcd' : ''} and exited 0 on SIGTERM`);
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


// ---------------------------------------------------------------- the agent
// deploy/kubernetes/agent: one reitunnel exposing in-cluster Services. It
// serves no port, so no probes and no Services; it needs no API token.
function agentChecks(objs, ctx) {
  const { report, where } = ctx;
  const info = { agent: null, config: null };
  const ws = workloads(objs);
  const ns = namespaceChecks(objs, where, report);
  containerChecks(ws, where, report, { probes: false });
  const agents = [];
  for (const w of ws) for (const c of w.spec.containers || []) {
    if (imageBase(c.image) === AGENT_IMAGE) agents.push({ ws: w, c });
    else report.error(`${where} ${id(w.obj)}`, `container ${c.name} runs ${c.image}, not the ${AGENT_IMAGE} image`);
  }
  if (agents.length !== 1) { report.error(where, `expected exactly one ${AGENT_IMAGE} container, found ${agents.length}`); return info; }
  const A = agents[0];
  info.agent = A;
  const aw = `${where} ${id(A.ws.obj)}`;
  if (A.ws.obj.kind !== 'Deployment') report.error(aw, 'the agent should be a Deployment');
  if ((A.ws.obj.spec.replicas ?? 1) !== 1) report.error(aw, `replicas ${A.ws.obj.spec.replicas}: a second agent would ask for the same tunnel names and public ports`);
  const strategy = ((A.ws.obj.spec || {}).strategy || {}).type || 'RollingUpdate';
  if (strategy !== 'Recreate') report.error(aw, `strategy ${strategy}: the old agent must close its tunnels before the new one asks for the same ports (Recreate)`);
  if (A.ws.spec.automountServiceAccountToken !== false) report.error(aw, 'automountServiceAccountToken is not false: the agent needs no Kubernetes API token');
  if ((A.c.ports || []).length) report.error(aw, 'declares container ports: the agent listens on nothing');
  for (const pr of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    if (A.c[pr] && !A.c[pr].exec) report.error(aw, `${pr} needs a port; the agent serves none`);
  }
  if (ctx.docker && !ctx.docker.agentImage) report.error(where, `no Dockerfile in deploy/docker installs /usr/local/bin/${AGENT_IMAGE}`);
  if (A.c.command && A.c.command[0] !== '/usr/local/bin/reitunnel') report.error(aw, `command ${A.c.command[0]} is not /usr/local/bin/reitunnel`);
  const args = A.c.args || [];
  for (const a of args) if (/^--token=/.test(a)) report.error(aw, '--token on the command line: the token comes from the Secret via env');
  const env = A.c.env || [];
  const tokenEnv = env.find((e) => e.name === 'REITUNNEL_TOKEN');
  if (!tokenEnv || !((tokenEnv.valueFrom || {}).secretKeyRef)) report.error(aw, 'no REITUNNEL_TOKEN env var from a Secret: the agent needs a token');
  for (const e of env) if (/TOKEN|KEY|PASSWORD|SECRET/.test(e.name) && e.value !== undefined) report.error(aw, `env ${e.name} has a literal value; take it from a Secret`);
  volumeAndRefChecks(objs, ws, ctx, ns);

  // Nothing may connect to the agent.
  const pols = policiesFor(objs, A.ws.ns, A.ws.labels);
  if (!pols.length) report.error(aw, 'no NetworkPolicy selects the agent pods');
  for (const pol of pols) if (((pol.spec || {}).ingress || []).length) report.error(`${where} ${id(pol)}`, 'allows ingress to the agent, which listens on nothing');

  const cfgPath = K.flagValue(args, 'config');
  if (!cfgPath) { report.error(aw, 'no --config=FILE argument'); return info; }
  const src = mountedFile(A.ws, A.c, cfgPath, ctx);
  if (src.error) { report.error(aw, src.error); return info; }
  if (src.src.kind !== 'ConfigMap') report.error(aw, `${cfgPath} comes from a ${src.src.kind}; the config belongs in a ConfigMap`);
  if (src.content === null || src.content === undefined) return info;
  const cw = `${where} ${src.src.kind}/${src.src.name}:${src.key}`;
  let cfg;
  try { cfg = YAML.parse(src.content) || {}; } catch (e) { report.error(cw, `YAML does not parse: ${e.message}`); return info; }
  info.config = cfg;
  if (cfg.token !== undefined) report.error(cw, 'token in the ConfigMap: it belongs in the Secret (env REITUNNEL_TOKEN)');
  if (!cfg.server && !K.flagValue(args, 'server')) report.error(cw, 'no server (config key server or --server)');
  const tunnels = cfg.tunnels || [];
  if (!tunnels.length && !args.some((a) => a.startsWith('--tunnel='))) report.error(cw, 'no tunnels: the agent would expose nothing');
  for (const t of tunnels) {
    const hp = K.parseHostPort(t.local_addr || '');
    if (!hp) { report.error(cw, `tunnel ${t.name}: local_addr "${t.local_addr}" is not HOST:PORT`); continue; }
    if (/^(127\.|localhost$|::1$)/.test(hp.host)) report.error(cw, `tunnel ${t.name}: local_addr ${t.local_addr} is the agent pod itself; point it at a Service`);
  }
  return info;
}

// Starts a process and collects its output lines.
function startProc(bin, args, env) {
  const child = cp.spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, out: '', exited: null };
  child.stdout.on('data', (d) => { p.out += d; });
  child.stderr.on('data', (d) => { p.out += d; });
  p.done = new Promise((resolve) => {
    child.on('error', (e) => { p.exited = { code: null, why: e.message }; resolve(p.exited); });
    child.on('close', (code, sig) => { p.exited = { code, sig }; resolve(p.exited); });
  });
  p.events = () => p.out.split('\n').map((l) => { try { return JSON.parse(l); } catch (e) { return null; } }).filter(Boolean);
  // Polls until pred(events) is truthy or the process exits; null on timeout/exit.
  p.waitFor = async (pred, ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end && !p.exited) {
      const r = pred(p.events());
      if (r) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
    return pred(p.events()) || null;
  };
  p.stop = async (ms) => {
    if (!p.exited) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    const r = await p.done;
    clearTimeout(t);
    return r;
  };
  return p;
}

// The rendered agent.yaml runs: the real reitunnel, with the container's
// arguments, connects to a real reitunneld on loopback and opens every
// tunnel. Only what cannot work here is changed: the server address, TLS
// (off), the public ports (0: any) and local_addr (in-cluster names do not
// resolve here).
async function liveAgent(info, ctx, tag) {
  const { report, where } = ctx;
  const agentBin = findBin('reitunnel');
  const serverBin = findBin('reitunneld');
  if (!agentBin || !serverBin) { report.note(where, 'reitunnel/reitunneld are not built (--bin-dir): live agent check skipped'); return; }
  if (!info.config || !info.agent) return;
  const dir = path.join(WORK, 'live', tag);
  fs.mkdirSync(dir, { recursive: true });
  const token = 'live-check-agent-token-0123456789abcdef';
  const baseEnv = { PATH: process.env.PATH };
  for (const k of ['ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k]) baseEnv[k] = process.env[k];
  const server = startProc(serverBin, ['--listen=127.0.0.1:0', '--admin=127.0.0.1:0', '--public-bind-addr=127.0.0.1', '--log-format=json'], { ...baseEnv, REITUNNEL_TOKEN: token });
  try {
    const ready = await server.waitFor((evs) => evs.find((e) => e.event === 'agent_listener_ready'), 30000);
    if (!ready) { report.error(where, `live: reitunneld for the agent check did not start: ${tail(server.out)}`); return; }
    const cfg = JSON.parse(JSON.stringify(info.config));
    cfg.server = ready.addr;
    cfg.tls = { enabled: false };
    const local = await closedPort();
    for (const t of cfg.tunnels || []) { t.remote_port = 0; t.local_addr = `127.0.0.1:${local}`; }
    const cfgFile = path.join(dir, 'agent.yaml');
    fs.writeFileSync(cfgFile, YAML.stringify(cfg));
    const args = [];
    for (const a of info.agent.c.args || []) {
      if (a.startsWith('--config=')) args.push(`--config=${cfgFile}`);
      else if (!/^--(server|tls|tls-ca|tls-cert|tls-key|tls-server-name|log-format)(=|$)/.test(a)) args.push(a);
    }
    args.push('--log-format=json');
    const agent = startProc(agentBin, args, { ...baseEnv, REITUNNEL_TOKEN: token });
    const names = (cfg.tunnels || []).map((t) => t.name);
    const opened = await agent.waitFor((evs) => names.every((n) => evs.some((e) => e.event === 'tunnel_open' && e.name === n)), 30000);
    if (!opened) { report.error(where, `live: reitunnel with the rendered agent.yaml did not open ${names.join(', ')}: ${tail(agent.out)}`); await agent.stop(5000); return; }
    const r = await agent.stop(15000);
    if (r.code !== 0) report.error(where, `live: reitunnel exited ${r.code ?? r.sig} after SIGTERM, want 0: ${tail(agent.out)}`);
    else report.ok(where, `reitunnel with the rendered agent.yaml opened ${names.join(', ')} on a real reitunneld and exited 0 on SIGTERM`);
  } finally {
    await server.stop(20000);
  }
}

async function checkAgentTarget({ dir, where, report, live, docker, tag }) {
  const r = render(dir);
  if (r.error) { report.error(where, r.error); return; }
  report.ok(where, `rendered ${r.objs.length} objects`);
  const ctx = { report, where, objs: r.objs, externalSecrets: [], docker };
  const externalFile = path.join(dir, 'secrets.example.yaml');
  const ext = fs.existsSync(externalFile) ? externalFile : path.join(AGENT_DIR, 'secrets.example.yaml');
  if (fs.existsSync(ext)) {
    try { ctx.externalSecrets = parseYamlDocs(ext); } catch (e) { report.error(where, e.message); }
    for (const s of ctx.externalSecrets) validateSchema(s, `${where} secrets.example.yaml`, report);
  }
  for (const o of r.objs) validateSchema(o, where, report);
  apiServerRules(r.objs, where, report);
  const info = agentChecks(r.objs, ctx);
  if (live) await liveAgent(info, ctx, tag);
}

// ---------------------------------------------------------------- one target
async function checkTarget({ dir, where, report, externalFile, live, docker, tag }) {
  const r = render(dir);
  if (r.error) { report.error(where, r.error); return; }
  report.ok(where, `rendered ${r.objs.length} objects`);
  // "# deploy-check: ha" in the kustomization: held to the HA shape.
  const kf = path.join(dir, 'kustomization.yaml');
  const ha = fs.existsSync(kf) && /#\s*deploy-check:\s*ha\b/.test(fs.readFileSync(kf, 'utf8'));
  const ctx = { report, where, objs: r.objs, externalSecrets: [], hookServiceName: hookServiceName(), docker, ha };
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
  const agentImage = Object.values(images).some((im) => im.stages && im.stages.length
    && (im.stages[im.stages.length - 1].binaries || []).includes(AGENT_IMAGE));
  return { hookBinaries, agentImage };
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
  if (overlays.includes('production') && !/#\s*deploy-check:\s*ha\b/.test(fs.readFileSync(path.join(overlaysDir, 'production', 'kustomization.yaml'), 'utf8'))) {
    report.error('overlays/production', 'kustomization.yaml lost its "# deploy-check: ha" line: production is held to the HA shape');
  }
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

  // The agent, for exposing in-cluster Services.
  const hasAgent = fs.existsSync(path.join(AGENT_DIR, 'kustomization.yaml'));
  if (!hasAgent) report.error('deploy/kubernetes/agent', 'missing');
  else {
    console.log('== agent');
    await checkAgentTarget({ dir: AGENT_DIR, where: 'agent', report, live: true, docker, tag: 'agent' });
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
  const agDir = path.join(FIXTURES, 'agent');
  for (const d of fs.existsSync(agDir) ? fs.readdirSync(agDir).sort() : []) {
    const kf = path.join(agDir, d, 'kustomization.yaml');
    if (!fs.existsSync(kf)) continue;
    const live = /#\s*needs:\s*reitunneld/.test(fs.readFileSync(kf, 'utf8'));
    negatives.push({ name: `agent/${d}`, file: kf, run: (rep) => checkAgentTarget({ dir: path.join(agDir, d), where: d, report: rep, live, docker, tag: `fixture-agent-${d}` }) });
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
  console.log(`\ndeploy.manifests: OK (${overlays.length} overlays, ${comps.length} components, ${hasAgent ? 'the agent, ' : ''}${negatives.length} negative checks) in ${dt} s`);
})().catch((e) => { console.error(e.stack || e); process.exit(1); });

// Lints one fixture Dockerfile (and its .dockerignore) against this tree.
function lintFixtureDocker(dir, file, rep) {
  const tmp = path.join(WORK, 'docker-fixtures', file);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const f of [file, `${file}.dockerignore`]) if (fs.existsSync(path.join(dir, f))) fs.copyFileSync(path.join(dir, f), path.join(tmp, f));
  lintDockerfiles({ sourceDir: SRC, dockerDir: tmp, binDirs: opts.binDirs, report: rep, knownPending: PENDING_PROGRAMS });
}
