#!/usr/bin/env node
// A Reitunnel hook service in Node.js, written from the contract alone
// (proto/reitunnel/hook/v1/hook.proto) with @grpc/grpc-js and
// @grpc/proto-loader: no Reitunnel SDK.
//
//   npm ci --prefix hookd-sdk/examples/node     (or ./install.sh DIR)
//   node hookd-sdk/examples/node/hook.js --listen=127.0.0.1:7100 --deny-names=admin,db
//
// - OnTunnelOpen: denies tunnels whose name is in --deny-names.
// - StreamDataEvents: adds up bytes per tunnel from the data batches and
//   notices sequence gaps (batches the server had to drop).
// - OnTunnelClose: logs the tunnel's exact totals (from the server) next to
//   what the batches added up to.
// - Describe: declares exactly those three events, so the server sends
//   nothing else. grpc.health.v1.Health answers SERVING.
// One JSON line per event on stdout; the first is
// {"event":"listening","address":"HOST:PORT","port":N,...}. SIGTERM/SIGINT
// stop it: health turns NOT_SERVING, calls in flight get a grace period, exit 0.

'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const NAME = 'node-example-hook/0.1.0';
const SDK = `grpc-js/${require('@grpc/grpc-js/package.json').version}`;
const EVENTS = ['tunnel_open', 'tunnel_close', 'data'];
const HOOK_SERVICE = 'reitunnel.hook.v1.HookService';
// Closed tunnel ids remembered to ignore a batch still in flight for them.
const CLOSED_REMEMBERED = 100000;

const USAGE = `usage: node hook.js [flags]
  --listen=HOST:PORT      address to serve (port 0 picks one) [127.0.0.1:7100]
  --deny-names=A,B,...    deny tunnels with these names
  --proto=FILE            hook.proto [../../../proto/reitunnel/hook/v1/hook.proto]
  --health-proto=FILE     grpc health.proto [/usr/share/grpc-proto/grpc/health/v1/health.proto]
  --tls-cert=FILE --tls-key=FILE [--tls-client-ca=FILE]   serve TLS (mTLS with a CA)
  --grace-ms=N            shutdown grace for calls in flight [1000]
`;

function parseFlags(argv) {
  const flags = {
    listen: '127.0.0.1:7100',
    denyNames: new Set(),
    proto: path.join(__dirname, '..', '..', '..', 'proto', 'reitunnel', 'hook', 'v1', 'hook.proto'),
    healthProto: '/usr/share/grpc-proto/grpc/health/v1/health.proto',
    graceMs: 1000,
  };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) fail(`unknown argument "${arg}"`);
    const [, name, value] = m;
    switch (name) {
      case 'listen': flags.listen = value; break;
      case 'deny-names':
        for (const n of value.split(',')) if (n) flags.denyNames.add(n);
        break;
      case 'proto': flags.proto = value; break;
      case 'health-proto': flags.healthProto = value; break;
      case 'tls-cert': flags.tlsCert = value; break;
      case 'tls-key': flags.tlsKey = value; break;
      case 'tls-client-ca': flags.tlsClientCa = value; break;
      case 'grace-ms':
        flags.graceMs = Number(value);
        if (!Number.isInteger(flags.graceMs) || flags.graceMs < 0) fail(`bad --grace-ms=${value}`);
        break;
      default: fail(`unknown flag "--${name}"`);
    }
  }
  if (!!flags.tlsCert !== !!flags.tlsKey) fail('--tls-cert and --tls-key go together');
  if (flags.tlsClientCa && !flags.tlsCert) fail('--tls-client-ca needs --tls-cert');
  return flags;
}

function fail(message) {
  process.stderr.write(`hook.js: ${message}\n${USAGE}`);
  process.exit(2);
}

// 64-bit counters arrive as decimal strings (longs: String) and are added
// as BigInt; printed as JSON numbers while exact, as strings beyond 2^53.
function jsonCount(big) {
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function load(file, what) {
  if (!fs.existsSync(file)) fail(`cannot find ${what} at ${file}`);
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, LOADER_OPTIONS));
}

// Per-tunnel byte totals from data batches, with sequence-gap detection per
// server instance.
class Traffic {
  constructor() {
    this.tunnels = new Map();  // tunnel_id -> {name, received, sent}
    this.lastSequence = new Map();  // server instance id -> BigInt
    this.closed = new Set();
    this.closedOrder = [];
  }

  // Returns {missed, tunnels}: batches missed before this one, and the
  // running totals of the tunnels it named.
  add(batch) {
    const instance = (batch.context && batch.context.server && batch.context.server.instance_id) || '';
    const sequence = BigInt(batch.sequence);
    const last = this.lastSequence.get(instance);
    let missed = 0n;
    if (last !== undefined && sequence > last + 1n) missed = sequence - last - 1n;
    if (last === undefined || sequence > last) this.lastSequence.set(instance, sequence);
    const named = [];
    for (const t of batch.tunnels) {
      if (this.closed.has(t.tunnel_id)) continue;
      let totals = this.tunnels.get(t.tunnel_id);
      if (!totals) {
        totals = { name: t.tunnel_name, received: 0n, sent: 0n };
        this.tunnels.set(t.tunnel_id, totals);
      }
      totals.received += BigInt(t.bytes_received);
      totals.sent += BigInt(t.bytes_sent);
      named.push({ tunnel_id: t.tunnel_id, tunnel_name: totals.name,
                   bytes_received: jsonCount(totals.received), bytes_sent: jsonCount(totals.sent) });
    }
    return { missed, tunnels: named };
  }

  close(tunnelId) {
    const totals = this.tunnels.get(tunnelId) || { name: '', received: 0n, sent: 0n };
    this.tunnels.delete(tunnelId);
    if (!this.closed.has(tunnelId)) {
      this.closed.add(tunnelId);
      this.closedOrder.push(tunnelId);
      if (this.closedOrder.length > CLOSED_REMEMBERED) this.closed.delete(this.closedOrder.shift());
    }
    return totals;
  }
}

function hookService(flags, traffic) {
  const unimplemented = (rpc) => (call, callback) => {
    // Describe leaves these out; a server that calls them anyway is older
    // than Describe or misconfigured. UNIMPLEMENTED is never an allow.
    emit({ event: 'unexpected_call', rpc });
    callback({ code: grpc.status.UNIMPLEMENTED, details: `${rpc} is not implemented by this hook` });
  };
  return {
    Describe(call, callback) {
      callback(null, { events: EVENTS, sdk: SDK, name: NAME });
    },
    OnTunnelOpen(call, callback) {
      const r = call.request;
      const denied = flags.denyNames.has(r.tunnel_name);
      const reason = denied ? `tunnel name "${r.tunnel_name}" is not allowed` : '';
      emit({ event: 'tunnel_open', client_id: r.client_id, tunnel_id: r.tunnel_id,
             tunnel_name: r.tunnel_name, decision: denied ? 'deny' : 'allow',
             ...(denied ? { reason } : {}) });
      callback(null, { decision: denied ? 'DENY' : 'ALLOW', reason });
    },
    OnTunnelClose(call, callback) {
      const r = call.request;
      const batched = traffic.close(r.tunnel_id);
      emit({ event: 'tunnel_close', client_id: r.client_id, tunnel_id: r.tunnel_id,
             tunnel_name: r.metadata.tunnel_name || batched.name, reason: r.reason,
             bytes_received: jsonCount(BigInt(r.bytes_received)),
             bytes_sent: jsonCount(BigInt(r.bytes_sent)),
             visitors: jsonCount(BigInt(r.visitors)),
             batched_bytes_received: jsonCount(batched.received),
             batched_bytes_sent: jsonCount(batched.sent) });
      callback(null, {});
    },
    StreamDataEvents(call, callback) {
      let answered = false;
      const answer = (err) => {
        if (answered) return;
        answered = true;
        callback(err, err ? undefined : {});
      };
      call.on('data', (batch) => {
        const { missed, tunnels } = traffic.add(batch);
        emit({ event: 'data_batch', sequence: jsonCount(BigInt(batch.sequence)),
               ...(missed > 0n ? { missed_batches: jsonCount(missed) } : {}), tunnels });
      });
      // The server half-closes the stream when it is done with it.
      call.on('end', () => answer(null));
      call.on('error', () => answer({ code: grpc.status.CANCELLED, details: 'stream failed' }));
    },
    OnServerStart: unimplemented('OnServerStart'),
    OnServerStop: unimplemented('OnServerStop'),
    OnClientConnect: unimplemented('OnClientConnect'),
    OnClientDisconnect: unimplemented('OnClientDisconnect'),
    OnError: unimplemented('OnError'),
    OnVisitorConnect: unimplemented('OnVisitorConnect'),
    OnVisitorDisconnect: unimplemented('OnVisitorDisconnect'),
  };
}

// grpc.health.v1: "" and the hook service are SERVING until shutdown.
class Health {
  constructor() {
    this.status = new Map([['', 'SERVING'], [HOOK_SERVICE, 'SERVING']]);
    this.watchers = new Set();
  }
  setAll(status) {
    for (const name of this.status.keys()) this.status.set(name, status);
    for (const w of this.watchers) w.write({ status: this.status.get(w.request.service) || 'SERVICE_UNKNOWN' });
  }
  endWatches() {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }
  implementation() {
    return {
      Check: (call, callback) => {
        const status = this.status.get(call.request.service);
        if (status === undefined) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        } else {
          callback(null, { status });
        }
      },
      Watch: (call) => {
        call.write({ status: this.status.get(call.request.service) || 'SERVICE_UNKNOWN' });
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
      },
    };
  }
}

function credentials(flags) {
  if (!flags.tlsCert) return grpc.ServerCredentials.createInsecure();
  const read = (f) => fs.readFileSync(f);
  return grpc.ServerCredentials.createSsl(
    flags.tlsClientCa ? read(flags.tlsClientCa) : null,
    [{ cert_chain: read(flags.tlsCert), private_key: read(flags.tlsKey) }],
    !!flags.tlsClientCa);
}

function main() {
  const flags = parseFlags(process.argv.slice(2));
  const hookProto = load(flags.proto, 'hook.proto (see --proto)');
  const server = new grpc.Server({
    // reitunneld keeps its data stream alive with pings.
    'grpc.http2.min_ping_interval_without_data_ms': 10000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 64 << 20,
  });
  const traffic = new Traffic();
  server.addService(hookProto.reitunnel.hook.v1.HookService.service, hookService(flags, traffic));
  let health = null;
  if (fs.existsSync(flags.healthProto)) {
    health = new Health();
    server.addService(load(flags.healthProto, 'health.proto').grpc.health.v1.Health.service,
                      health.implementation());
  } else {
    process.stderr.write(`hook.js: no ${flags.healthProto}: serving without grpc.health.v1\n`);
  }
  let creds;
  try {
    creds = credentials(flags);
  } catch (e) {
    process.stderr.write(`hook.js: ${e.message}\n`);
    process.exit(1);
  }
  server.bindAsync(flags.listen, creds, (err, port) => {
    if (err) {
      process.stderr.write(`hook.js: cannot listen on ${flags.listen}: ${err.message}\n`);
      process.exit(1);
    }
    const host = flags.listen.slice(0, flags.listen.lastIndexOf(':'));
    emit({ event: 'listening', address: `${host}:${port}`, port, events: EVENTS,
           deny_names: [...flags.denyNames], health: health !== null });
  });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    if (health) {
      health.setAll('NOT_SERVING');
      health.endWatches();
    }
    // Calls in flight (the server's data stream never ends on its own) get
    // the grace period, then are cancelled.
    const force = setTimeout(() => server.forceShutdown(), flags.graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      emit({ event: 'stopped', signal });
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
