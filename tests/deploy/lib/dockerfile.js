'use strict';
// Structural checks of deploy/docker/*.Dockerfile (no Docker engine needed):
// multi-stage, the build stage mirrors CI, runtime stages are slim, non-root
// and compiler-free, and their apt lists cover the shared libraries the
// binaries actually load (ldd + dpkg -S on the binaries CI built).

const fs = require('fs');
const path = require('path');
const cp = require('child_process');

// Parses a Dockerfile into stages of {op, args, text} (continuations joined,
// comments dropped).
function parseDockerfile(text) {
  const lines = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!cur && /^\s*#/.test(line)) continue;
    if (cur && /^\s*#/.test(line)) continue; // comment inside a continuation
    if (/\\\s*$/.test(line)) { cur += line.replace(/\\\s*$/, ' '); continue; }
    cur += line;
    if (cur.trim()) lines.push(cur.trim());
    cur = '';
  }
  if (cur.trim()) lines.push(cur.trim());
  const stages = [];
  for (const l of lines) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(l);
    if (!m) continue;
    const op = m[1].toUpperCase();
    const args = m[2].replace(/\s+/g, ' ').trim();
    if (op === 'FROM') {
      const fm = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: fm ? fm[1] : args, name: fm && fm[2] ? fm[2] : String(stages.length), instrs: [] });
      continue;
    }
    if (!stages.length) continue; // ARG before FROM
    stages[stages.length - 1].instrs.push({ op, args, text: `${op} ${args}` });
  }
  return stages;
}

// Packages named in `apt-get install` commands of a stage.
function aptPackages(stage) {
  const pkgs = [];
  for (const ins of stage.instrs) {
    if (ins.op !== 'RUN') continue;
    for (const cmd of ins.args.split(/&&|;|\|\|/)) {
      const m = /\bapt-get\s+(?:\S+\s+)*?install\b(.*)$/.exec(cmd.trim());
      if (!m) continue;
      for (const tok of m[1].trim().split(/\s+/)) if (tok && !tok.startsWith('-')) pkgs.push(tok.replace(/[=:].*$/, ''));
    }
  }
  return pkgs;
}

// Files copied out of another stage: [{from, srcs, dest}].
function copiesFrom(stage) {
  const out = [];
  for (const ins of stage.instrs) {
    if (ins.op !== 'COPY') continue;
    const m = /--from=(\S+)/.exec(ins.args);
    if (!m) continue;
    const parts = ins.args.split(' ').filter((p) => !p.startsWith('--'));
    out.push({ from: m[1], srcs: parts.slice(0, -1), dest: parts[parts.length - 1] });
  }
  return out;
}

const FORBIDDEN_RUNTIME = /^(build-essential|gcc(-\d+)?|g\+\+(-\d+)?|cpp(-\d+)?|clang.*|llvm.*|cmake.*|ninja-build|make|ccache|pkg-config|binutils.*|libc6-dev|protobuf-compiler.*|.*-dev)$/;
// Come with debian:bookworm-slim, or exist only in sanitizer builds (CI builds
// with ASan+UBSan; the images are Release builds).
const BASE_PACKAGES = new Set(['libc6', 'libgcc-s1', 'libstdc++6']);
const SANITIZER_PACKAGE = /^lib(asan|ubsan|lsan|tsan|hwasan)\d+$/;

// ldd path -> Debian package. ldd prints the symlink path (/lib/...); dpkg may
// know it under /usr/lib (merged /usr) or only the versioned file, so every
// variant is asked, all in one dpkg -S call per binary (it is slow per call).
const ownerCache = new Map();
function candidates(file) {
  const cands = new Set([file]);
  try { cands.add(fs.realpathSync(file)); } catch (e) { /* keep going */ }
  for (const c of [...cands]) {
    try { cands.add(path.join(path.dirname(c), path.basename(fs.realpathSync(c)))); } catch (e) { /* ignore */ }
  }
  for (const c of [...cands]) { if (c.startsWith('/usr/')) cands.add(c.slice(4)); else cands.add('/usr' + c); }
  return [...cands];
}
function resolveOwners(files) {
  const todo = files.filter((f) => !ownerCache.has(f));
  if (!todo.length) return;
  const byCand = new Map();
  for (const f of todo) for (const c of candidates(f)) byCand.set(c, f);
  const r = cp.spawnSync('dpkg', ['-S', ...byCand.keys()], { encoding: 'utf8', maxBuffer: 16 << 20 });
  for (const line of (r.stdout || '').split('\n')) {
    const i = line.lastIndexOf(': ');
    if (i < 0) continue;
    const p = line.slice(i + 2).trim();
    const f = byCand.get(p);
    if (!f || ownerCache.has(f)) continue;
    ownerCache.set(f, line.slice(0, i).split(',')[0].trim().replace(/:[a-z0-9]+$/, ''));
  }
  for (const f of todo) if (!ownerCache.has(f)) ownerCache.set(f, null);
}

// Shared libraries of a binary, each resolved to its Debian package.
function libraryPackages(binary) {
  const r = cp.spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (r.status !== 0) return { error: `ldd ${binary} failed: ${(r.stderr || r.stdout).trim()}` };
  const pkgs = new Map(); // pkg -> [libs]
  const unresolved = [];
  const missing = [];
  const libs = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+(\S+)/.exec(line);
    if (!m) continue;
    if (m[2] === 'not') { missing.push(m[1]); continue; }
    libs.push([m[1], m[2]]);
  }
  resolveOwners(libs.map((l) => l[1]));
  for (const [name, file] of libs) {
    const pkg = ownerCache.get(file);
    if (!pkg) { unresolved.push(file); continue; }
    if (!pkgs.has(pkg)) pkgs.set(pkg, []);
    pkgs.get(pkg).push(name);
  }
  return { pkgs, unresolved, missing };
}

function haveTool(name) {
  return cp.spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

// Executables the CMake project defines (target names and OUTPUT_NAMEs).
function cmakePrograms(sourceDir) {
  const progs = new Set();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (/^(build.*|\.git|node_modules|tests|deploy)$/.test(e.name) && dir === sourceDir) continue;
        walk(p);
      } else if (e.name === 'CMakeLists.txt') {
        const t = fs.readFileSync(p, 'utf8').replace(/#.*$/gm, '');
        for (const m of t.matchAll(/add_executable\(\s*([\w.+-]+)/g)) if (!m[1].startsWith('$')) progs.add(m[1]);
        for (const m of t.matchAll(/OUTPUT_NAME\s+([\w.+-]+)/g)) progs.add(m[1]);
        // hookd-sdk/examples: hookd_example(<target> <output name> <sources>)
        for (const m of t.matchAll(/\bhookd_example\(\s*([\w.+-]+)\s+([\w.+-]+)/g)) { if (!m[1].startsWith('$')) { progs.add(m[1]); progs.add(m[2]); } }
      }
    }
  };
  walk(sourceDir);
  return progs;
}

// Top-level add_subdirectory() entries outside if(REITUNNEL_BUILD_TESTS).
function topLevelSubdirs(sourceDir) {
  const t = fs.readFileSync(path.join(sourceDir, 'CMakeLists.txt'), 'utf8').replace(/#.*$/gm, '');
  const dirs = [];
  let inTests = 0;
  for (const line of t.split('\n')) {
    if (/^\s*if\s*\(\s*REITUNNEL_BUILD_TESTS/.test(line)) inTests++;
    else if (/^\s*endif\s*\(/.test(line) && inTests) inTests--;
    const m = /add_subdirectory\(\s*([\w./-]+)/.exec(line);
    if (m && !inTests) dirs.push(m[1]);
  }
  return dirs;
}

// Allow-list .dockerignore: "*" then "!path" entries.
function dockerignoreAllows(text, relPath) {
  let allowed = true;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    const neg = l.startsWith('!');
    const pat = (neg ? l.slice(1) : l).replace(/\/$/, '');
    const re = new RegExp('^' + pat.split('**').map((s) => s.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*') + '(/.*)?$');
    if (re.test(relPath)) allowed = neg;
  }
  return allowed;
}

// dockerDir defaults to SOURCE/deploy/docker; the negative self-checks point
// it at a fixture directory instead.
function lintDockerfiles({ sourceDir, binDirs, report, knownPending, dockerDir }) {
  dockerDir = dockerDir || path.join(sourceDir, 'deploy', 'docker');
  const files = fs.existsSync(dockerDir) ? fs.readdirSync(dockerDir).filter((f) => f.endsWith('.Dockerfile') || f === 'Dockerfile').sort() : [];
  const rel = path.relative(sourceDir, dockerDir).split(path.sep).join('/');
  const where = (f) => (rel.startsWith('..') ? f : `${rel}/${f}`);
  if (!files.length) { report.error('docker', 'no Dockerfiles in deploy/docker'); return { images: {} }; }
  const programs = cmakePrograms(sourceDir);
  const topText = fs.readFileSync(path.join(sourceDir, 'CMakeLists.txt'), 'utf8');
  const buildStages = [];
  const images = {}; // dockerfile -> {binaries: Set, stages}
  const ldd = haveTool('ldd') && haveTool('dpkg');
  if (!ldd) report.note('docker', 'ldd/dpkg missing: shared-library coverage not checked');

  for (const f of files) {
    const text = fs.readFileSync(path.join(dockerDir, f), 'utf8');
    const stages = parseDockerfile(text);
    const w = where(f);
    images[f] = { binaries: new Set(), stages };
    if (stages.length < 2) { report.error(w, 'not a multi-stage build'); continue; }
    const build = stages.find((s) => s.name === 'build');
    if (!build) { report.error(w, 'no stage named "build"'); continue; }
    if (!/^debian:bookworm(@sha256:[0-9a-f]+)?$/.test(build.from)) report.error(w, `build stage FROM ${build.from}, want debian:bookworm`);
    const bt = build.instrs.map((i) => i.text).join('\n');
    if (!/COPY scripts\/install-deps\.sh/.test(bt) || !/RUN .*scripts\/install-deps\.sh/.test(bt)) {
      report.error(w, 'build stage must install its toolchain with scripts/install-deps.sh, as CI does');
    }
    const cm = /cmake -S \. -B (\S+)([^&]*)/.exec(bt);
    if (!cm) report.error(w, 'build stage must configure with `cmake -S . -B DIR ...`');
    else {
      if (!/-DCMAKE_BUILD_TYPE=Release\b/.test(cm[2])) report.error(w, 'build stage must configure with -DCMAKE_BUILD_TYPE=Release');
      if (!/-DREITUNNEL_BUILD_TESTS=OFF\b/.test(cm[2])) report.error(w, 'build stage must configure with -DREITUNNEL_BUILD_TESTS=OFF');
      if (!/option\(\s*REITUNNEL_BUILD_TESTS\b/.test(topText)) report.error(w, 'CMakeLists.txt has no option REITUNNEL_BUILD_TESTS any more');
      if (!new RegExp(`cmake --build ${cm[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(bt)) report.error(w, `build stage never runs cmake --build ${cm[1]}`);
    }
    buildStages.push({ f, text: `FROM ${build.from}\n${bt}` });

    const last = stages[stages.length - 1];
    if (last === build) report.error(w, 'the final stage is the build stage');
    for (const st of stages) {
      if (st === build) continue;
      const sw = `${w} [${st.name}]`;
      if (!/^debian:bookworm-slim(@sha256:[0-9a-f]+)?$/.test(st.from)) report.error(sw, `runtime stage FROM ${st.from}, want debian:bookworm-slim`);
      const users = st.instrs.filter((i) => i.op === 'USER');
      const user = users.length ? users[users.length - 1].args : null;
      const um = user && /^(\d+)(?::(\d+))?$/.exec(user);
      if (!um) report.error(sw, `final USER must be a numeric non-root uid[:gid] (Kubernetes' runAsNonRoot needs a number), got ${user || 'none'}`);
      else if (um[1] === '0' || um[2] === '0') report.error(sw, `USER ${user} is root`);
      const userIdx = st.instrs.lastIndexOf(users[users.length - 1]);
      st.instrs.forEach((i, idx) => { if (i.op === 'RUN' && idx > userIdx && userIdx >= 0) report.error(sw, `RUN after USER (${i.args.slice(0, 40)}...)`); });
      const ep = st.instrs.filter((i) => i.op === 'ENTRYPOINT');
      if (!ep.length) report.error(sw, 'no ENTRYPOINT');
      else if (!ep[ep.length - 1].args.startsWith('[')) report.error(sw, 'ENTRYPOINT must use the exec (JSON) form so signals reach the server');
      const pkgs = aptPackages(st);
      for (const p of pkgs) if (FORBIDDEN_RUNTIME.test(p)) report.error(sw, `runtime stage installs build tooling: ${p}`);
      for (const i of st.instrs) {
        if (i.op !== 'RUN' || !/apt-get\s+install/.test(i.args)) continue;
        if (!/--no-install-recommends/.test(i.args)) report.error(sw, 'apt-get install without --no-install-recommends');
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(i.args)) report.error(sw, 'apt lists are not removed in the install layer');
      }
      st.binaries = [];
      for (const c of copiesFrom(st)) {
        if (c.from !== 'build') { report.error(sw, `COPY --from=${c.from}: only the build stage is a source`); continue; }
        for (const s of c.srcs) {
          if (!s.startsWith('/src/build/')) report.error(sw, `COPY --from=build ${s}: copy build outputs only (system files come from apt)`);
          const bm = /^\/src\/build\/bin\/([^/]+)$/.exec(s);
          if (!bm) continue;
          const prog = bm[1];
          st.binaries.push(prog);
          images[f].binaries.add(prog);
          if (!programs.has(prog)) {
            if (knownPending.has(prog)) report.note(sw, `${prog} is not a CMake target yet (product contract program); the image build needs it`);
            else report.error(sw, `${prog}: no CMake target or OUTPUT_NAME builds it`);
          }
        }
      }
      // Shared libraries: every package they come from must be installed.
      if (!ldd || !st.binaries.length) continue;
      const have = new Set(pkgs);
      for (const prog of st.binaries) {
        const bin = binDirs.map((d) => path.join(d, prog)).find((p) => fs.existsSync(p));
        if (!bin) { report.note(sw, `${prog} not built here: its shared libraries are not checked`); continue; }
        const r = libraryPackages(bin);
        if (r.error) { report.error(sw, r.error); continue; }
        for (const lib of r.missing) report.note(sw, `${prog}: ldd cannot find ${lib} on this machine`);
        for (const lib of r.unresolved) report.note(sw, `${prog}: ${lib} belongs to no Debian package (built locally?)`);
        for (const [pkg, libs] of r.pkgs) {
          if (BASE_PACKAGES.has(pkg) || SANITIZER_PACKAGE.test(pkg)) continue;
          if (!have.has(pkg)) report.error(sw, `${prog} loads ${libs.join(', ')} from package ${pkg}, which the runtime stage does not install`);
        }
        report.ok(sw, `${prog}: ${r.pkgs.size} library packages covered`);
      }
    }

    // Build context allow-list.
    const ign = path.join(dockerDir, `${f}.dockerignore`);
    if (!fs.existsSync(ign)) { report.error(w, `no ${f}.dockerignore next to it (BuildKit reads <Dockerfile>.dockerignore)`); continue; }
    const it = fs.readFileSync(ign, 'utf8');
    const need = ['CMakeLists.txt', 'scripts/install-deps.sh', ...topLevelSubdirs(sourceDir).map((d) => `${d}/CMakeLists.txt`)];
    if (fs.existsSync(path.join(sourceDir, 'cmake'))) need.push('cmake/x.cmake');
    for (const n of need) if (!dockerignoreAllows(it, n)) report.error(`${where(f)}.dockerignore`, `excludes ${n.replace(/\/(CMakeLists\.txt|x\.cmake)$/, '/')}, which the build needs`);
    for (const n of ['build/bin/reitunneld', 'build-asan/CMakeCache.txt', '.git/HEAD']) if (dockerignoreAllows(it, n)) report.error(`${where(f)}.dockerignore`, `lets ${n} into the build context`);
  }
  // Identical build stages: building the second image reuses the first's.
  if (buildStages.length > 1) {
    for (const b of buildStages.slice(1)) {
      if (b.text !== buildStages[0].text) report.error(where(b.f), `build stage differs from ${buildStages[0].f}'s: keep them identical so the second image reuses the cached compile`);
    }
  }
  return { images };
}

module.exports = { lintDockerfiles, parseDockerfile, aptPackages, dockerignoreAllows, cmakePrograms };
