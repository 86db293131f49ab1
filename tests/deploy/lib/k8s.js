'use strict';
// Small Kubernetes helpers: selectors, quantities, names, ports.

function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

// Label selector semantics (matchLabels + matchExpressions); {} matches all.
function selectorMatches(sel, labels) {
  if (!sel) return false;
  labels = labels || {};
  for (const [k, v] of Object.entries(sel.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const vals = e.values || [];
    if (e.operator === 'In' && !(has && vals.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
// Service selectors are plain maps.
function mapSelectorMatches(sel, labels) {
  if (!sel || !Object.keys(sel).length) return false;
  return Object.entries(sel).every(([k, v]) => (labels || {})[k] === v);
}

function quantity(q, cpu) {
  if (q === undefined || q === null) return null;
  const s = String(q).trim();
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(s);
  if (!m) return NaN;
  const n = parseFloat(m[1]);
  const mult = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2]];
  if (mult === undefined) return NaN;
  if (cpu && m[2] && m[2] !== 'm') return NaN;
  return n * mult;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function labelKeyError(k) {
  const parts = k.split('/');
  if (parts.length > 2) return 'more than one "/"';
  const name = parts[parts.length - 1];
  if (parts.length === 2 && (!DNS1123_SUBDOMAIN.test(parts[0]) || parts[0].length > 253)) return `prefix "${parts[0]}" is not a DNS subdomain`;
  if (!LABEL_NAME.test(name) || name.length > 63) return `name "${name}" is not a valid label name`;
  return null;
}

// IANA_SVC_NAME: what Kubernetes requires of port names.
function portNameError(n) {
  if (n.length > 15) return 'longer than 15 characters';
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n)) return 'not lowercase alphanumerics and "-"';
  if (n.includes('--')) return 'contains "--"';
  if (!/[a-z]/.test(n)) return 'has no letter';
  return null;
}

function parseHostPort(s) {
  if (typeof s !== 'string') return null;
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(s.trim());
  if (!m) return null;
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
function parseRange(s) {
  const m = /^(\d+)(?:-(\d+))?$/.exec(String(s || '').trim());
  if (!m) return null;
  const lo = Number(m[1]); const hi = m[2] ? Number(m[2]) : lo;
  return lo <= hi ? { lo, hi } : null;
}

function flagValue(args, name) {
  let v;
  for (const a of args || []) if (a.startsWith(`--${name}=`)) v = a.slice(name.length + 3);
  return v;
}

module.exports = {
  isObj, selectorMatches, mapSelectorMatches, quantity, DNS1123_LABEL, DNS1035_LABEL,
  DNS1123_SUBDOMAIN, LABEL_VALUE, labelKeyError, portNameError, parseHostPort, parseRange, flagValue,
};
