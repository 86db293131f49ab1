'use strict';
// Unknown-field detection for Kubernetes objects.
//
// kubernetes-models' validators (ajv, compiled from the OpenAPI schemas) check
// types, enums and required fields but accept unknown keys, while the API
// server (kubectl's default --validate=strict) rejects them: a typo such as
// `readinesProbe` would pass schema validation and fail at apply time, or
// worse, be dropped. The package's TypeScript declarations list every field
// of every type, so this reads them (a small parser for the subset of
// TypeScript they use: interfaces, type aliases, Array<>, index signatures,
// inline object types, unions) and walks the object against them.

const fs = require('fs');
const path = require('path');

const BUILTIN = new Set(['string', 'number', 'boolean', 'any', 'unknown', 'null', 'undefined',
  'object', 'true', 'false', 'never', 'void', 'bigint', 'symbol']);

function tokenize(src) {
  const toks = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (src.startsWith('/*', i)) { const e = src.indexOf('*/', i + 2); i = e < 0 ? src.length : e + 2; continue; }
    if (src.startsWith('//', i)) { const e = src.indexOf('\n', i); i = e < 0 ? src.length : e + 1; continue; }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1; let s = '';
      while (j < src.length && src[j] !== c) { if (src[j] === '\\') { s += src[j + 1]; j += 2; } else { s += src[j++]; } }
      toks.push({ k: 'str', v: s }); i = j + 1; continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i; while (j < src.length && /[\w$]/.test(src[j])) j++;
      toks.push({ k: 'id', v: src.slice(i, j) }); i = j; continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] || ''))) {
      let j = i + 1; while (j < src.length && /[0-9.eE+-]/.test(src[j])) j++;
      toks.push({ k: 'num', v: src.slice(i, j) }); i = j; continue;
    }
    if (src.startsWith('=>', i)) { toks.push({ k: 'p', v: '=>' }); i += 2; continue; }
    if (src.startsWith('...', i)) { toks.push({ k: 'p', v: '...' }); i += 3; continue; }
    toks.push({ k: 'p', v: c }); i++;
  }
  return toks;
}

class Parser {
  constructor(toks, file) { this.t = toks; this.i = 0; this.file = file; }
  peek(o = 0) { return this.t[this.i + o]; }
  is(v, o = 0) { const t = this.peek(o); return t && (t.k === 'p' || t.k === 'id') && t.v === v; }
  next() { return this.t[this.i++]; }
  expect(v) {
    const t = this.next();
    if (!t || t.v !== v) throw new Error(`${this.file}: expected ${v}, got ${t ? t.v : 'EOF'} at token ${this.i}`);
    return t;
  }
  eat(v) { if (this.is(v)) { this.i++; return true; } return false; }
  skipBalanced(open, close) {
    let depth = 0;
    do {
      const t = this.next();
      if (!t) return;
      if (t.k === 'p' && t.v === open) depth++;
      else if (t.k === 'p' && t.v === close) depth--;
    } while (depth > 0);
  }

  // type := '|'? postfix ('|' postfix)*  (also '&' treated as union: fields of both)
  parseType() {
    this.eat('|');
    const parts = [this.parsePostfix()];
    while (this.is('|') || this.is('&')) { this.next(); parts.push(this.parsePostfix()); }
    return parts.length === 1 ? parts[0] : { t: 'union', of: parts };
  }
  parsePostfix() {
    let ty = this.parsePrimary();
    while (this.is('[') && this.is(']', 1)) { this.i += 2; ty = { t: 'arr', of: ty }; }
    // Indexed access (IDeployment["kind"]): a scalar in practice.
    while (this.is('[')) { this.skipBalanced('[', ']'); ty = { t: 'leaf' }; }
    return ty;
  }
  parsePrimary() {
    const t = this.next();
    if (!t) throw new Error(`${this.file}: unexpected end of type`);
    if (t.k === 'str' || t.k === 'num') return { t: 'leaf' };
    if (t.k === 'p' && t.v === '{') return this.parseObjectBody();
    if (t.k === 'p' && t.v === '(') { const ty = this.parseType(); this.expect(')'); return ty; }
    if (t.k === 'id') {
      if (t.v === 'import' && this.is('(')) { // import("x").Name<...>
        this.skipBalanced('(', ')');
        while (this.eat('.')) this.next();
        if (this.is('<')) this.skipBalanced('<', '>');
        return { t: 'leaf' };
      }
      let name = t.v;
      while (this.is('.')) { this.next(); name += '.' + this.next().v; }
      if (this.is('<')) {
        this.next();
        const args = [this.parseType()];
        while (this.eat(',')) args.push(this.parseType());
        this.expect('>');
        if (name === 'Array' || name === 'ReadonlyArray') return { t: 'arr', of: args[0] };
        if (name === 'Record') return { t: 'obj', props: new Map(), index: args[1] };
        return { t: 'leaf' };
      }
      if (BUILTIN.has(name)) return { t: 'leaf' };
      return { t: 'ref', file: this.file, name };
    }
    throw new Error(`${this.file}: unexpected token ${t.v} in a type`);
  }
  // after '{'
  parseObjectBody() {
    const props = new Map();
    let index = null;
    while (!this.is('}')) {
      if (this.eat(';') || this.eat(',')) continue;
      this.eat('readonly');
      if (this.is('[')) {
        this.next(); this.next(); this.expect(':'); this.parseType(); this.expect(']');
        this.expect(':');
        index = this.parseType();
      } else {
        const key = this.next();
        if (!key || (key.k !== 'str' && key.k !== 'id')) throw new Error(`${this.file}: bad member`);
        this.eat('?');
        if (this.is('(')) { this.skipBalanced('(', ')'); if (this.eat(':')) this.parseType(); continue; }
        this.expect(':');
        props.set(key.v, this.parseType());
      }
    }
    this.expect('}');
    return { t: 'obj', props, index };
  }
}

// Top level of a .d.ts: imports, interfaces, type aliases, export aliases.
function parseModule(file) {
  const p = new Parser(tokenize(fs.readFileSync(file, 'utf8')), file);
  const mod = { file, imports: new Map(), defs: new Map(), aliases: new Map() };
  while (p.peek()) {
    if (p.is('import') && p.is('{', 1)) {
      p.next(); p.next();
      const names = [];
      while (!p.is('}')) {
        const a = p.next().v;
        let local = a;
        if (p.eat('as')) local = p.next().v;
        names.push([a, local]);
        p.eat(',');
      }
      p.expect('}'); p.expect('from');
      const from = p.next().v;
      for (const [orig, local] of names) mod.imports.set(local, { from, name: orig });
      p.eat(';');
      continue;
    }
    if (p.is('export') && p.is('{', 1)) {
      p.next(); p.next();
      while (!p.is('}')) {
        const a = p.next().v;
        let exported = a;
        if (p.eat('as')) exported = p.next().v;
        mod.aliases.set(exported, a);
        p.eat(',');
      }
      p.expect('}');
      if (p.eat('from')) p.next();
      p.eat(';');
      continue;
    }
    if (p.is('interface')) {
      p.next();
      const name = p.next().v;
      if (p.is('<')) p.skipBalanced('<', '>');
      const ext = [];
      if (p.eat('extends')) {
        do { const tn = p.next().v; if (p.is('<')) p.skipBalanced('<', '>'); ext.push(tn); } while (p.eat(','));
      }
      p.expect('{');
      const body = p.parseObjectBody();
      body.ext = ext.map((n) => ({ t: 'ref', file, name: n }));
      mod.defs.set(name, body);
      continue;
    }
    if (p.is('type') && p.peek(1) && p.peek(1).k === 'id' && (p.is('=', 2) || p.is('<', 2))) {
      p.next();
      const name = p.next().v;
      if (p.is('<')) p.skipBalanced('<', '>');
      p.expect('=');
      mod.defs.set(name, p.parseType());
      p.eat(';');
      continue;
    }
    if (p.is('class')) {
      p.next(); p.next();
      while (!p.is('{')) p.next();
      p.skipBalanced('{', '}');
      continue;
    }
    p.next();
  }
  return mod;
}

class StrictFields {
  constructor(requireFromNodeDir) {
    this.req = requireFromNodeDir; // a require() rooted at the node_modules dir
    this.mods = new Map();
  }
  module(file) {
    if (!this.mods.has(file)) this.mods.set(file, parseModule(file));
    return this.mods.get(file);
  }
  resolveImport(fromFile, spec) {
    if (spec.startsWith('.')) return path.resolve(path.dirname(fromFile), spec) + '.d.ts';
    // "@scope/pkg/sub/path" or "pkg/sub/path": the .d.ts sits at that path.
    const segs = spec.split('/');
    const pkgLen = spec.startsWith('@') ? 2 : 1;
    const pkgJson = this.req.resolve(segs.slice(0, pkgLen).join('/') + '/package.json');
    const rest = segs.slice(pkgLen).join('/') || 'index';
    return path.join(path.dirname(pkgJson), rest + '.d.ts');
  }
  // Resolves a named type in a module to a type node (never a ref).
  lookup(file, name, depth = 0) {
    if (depth > 20) return { t: 'leaf' };
    const mod = this.module(file);
    if (mod.defs.has(name)) return mod.defs.get(name);
    if (mod.aliases.has(name) && mod.aliases.get(name) !== name) return this.lookup(file, mod.aliases.get(name), depth + 1);
    if (mod.imports.has(name)) {
      const imp = mod.imports.get(name);
      let target;
      try { target = this.resolveImport(file, imp.from); } catch (e) { return { t: 'leaf' }; }
      if (!fs.existsSync(target)) return { t: 'leaf' };
      return this.lookup(target, imp.name, depth + 1);
    }
    return { t: 'leaf' }; // e.g. TypeMeta helpers, global types
  }
  deref(ty) {
    let guard = 0;
    while (ty && ty.t === 'ref' && guard++ < 30) ty = this.lookup(ty.file, ty.name);
    if (ty && ty.t === 'obj' && ty.ext && ty.ext.length && !ty.merged) {
      // Fold the fields of extended interfaces in (once).
      const props = new Map(ty.props);
      let index = ty.index;
      for (const e of ty.ext) {
        const base = this.deref(e);
        if (base && base.t === 'obj') { for (const [k, v] of base.props) if (!props.has(k)) props.set(k, v); index = index || base.index; }
      }
      ty = { t: 'obj', props, index, merged: true };
    }
    return ty || { t: 'leaf' };
  }
  // The interface I<Kind> declared next to the model class file.
  typeForClassFile(jsFile, kind) {
    const dts = jsFile.replace(/\.(c|m)?js$/, '.d.ts');
    if (!fs.existsSync(dts)) return null;
    const mod = this.module(dts);
    if (mod.defs.has('I' + kind)) return { t: 'ref', file: dts, name: 'I' + kind };
    return null;
  }
  // Returns a list of "path: unknown field" strings.
  check(value, ty, where, out = []) {
    ty = this.deref(ty);
    if (value === null || value === undefined) return out;
    if (ty.t === 'union') {
      const want = Array.isArray(value) ? 'arr' : (typeof value === 'object' ? 'obj' : null);
      if (!want) return out;
      for (const m of ty.of) {
        const d = this.deref(m);
        if (d.t === want) return this.check(value, d, where, out);
      }
      return out;
    }
    if (ty.t === 'arr') {
      if (Array.isArray(value)) value.forEach((v, i) => this.check(v, ty.of, `${where}[${i}]`, out));
      return out;
    }
    if (ty.t === 'obj') {
      if (typeof value !== 'object' || Array.isArray(value)) return out;
      for (const [k, v] of Object.entries(value)) {
        const sub = where ? `${where}.${k}` : k;
        if (ty.props.has(k)) this.check(v, ty.props.get(k), sub, out);
        else if (ty.index) this.check(v, ty.index, sub, out);
        else out.push(`${sub}: unknown field`);
      }
    }
    return out;
  }
}

module.exports = { StrictFields, tokenize, parseModule };
