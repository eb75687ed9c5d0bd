'use strict';
// Shared setup for the real-client scripts driven by ringcast's integration tests.
//
// Contract of every script: read the server address and app credentials from the
// environment, print progress lines on stdout (e.g. `ready`), finish with a line
// starting `ok` and exit 0 — or print the reason on stderr and exit 1. A hard
// timeout (CLIENT_TIMEOUT_MS, default 20 s) guarantees a script never hangs.
//
// Environment: RINGCAST_HOST (127.0.0.1), RINGCAST_PORT (required), APP_ID (424242),
// APP_KEY (test-key), APP_SECRET (test-secret), CLIENT_TIMEOUT_MS (20000),
// CLIENT_DEBUG=1 to send pusher-js logs to stderr.

const net = require('net');
const path = require('path');
const PusherJS = require('pusher-js'); // resolves to pusher-js/dist/node (no browser needed)
const PusherSDK = require('pusher'); // the Node server SDK

const SCRIPT = path.basename(process.argv[1] || 'client');

function fail(reason) {
  let msg;
  if (reason && reason.name === 'PusherRequestError') {
    // The Node SDK's REST error: say what the server answered.
    const answer = reason.status ? `HTTP ${reason.status}: ${reason.body}` : String(reason.error);
    msg = `REST ${reason.message} (${answer}) ${reason.url}`;
  } else if (reason instanceof Error) {
    // Plain Errors are our own diagnostics; anything else (TypeError, ...) gets its stack.
    const verbose = reason.name !== 'Error' || process.env.CLIENT_DEBUG;
    msg = verbose ? reason.stack : reason.message;
  } else {
    msg = String(reason);
  }
  process.stderr.write(`FAIL ${SCRIPT}: ${msg}\n`);
  process.exit(1);
}

function envOr(name, dflt) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (dflt === undefined) fail(`environment variable ${name} is required`);
  return dflt;
}

const env = {
  host: envOr('RINGCAST_HOST', '127.0.0.1'),
  port: Number(envOr('RINGCAST_PORT')),
  appId: envOr('APP_ID', '424242'),
  key: envOr('APP_KEY', 'test-key'),
  secret: envOr('APP_SECRET', 'test-secret'),
  timeoutMs: Number(envOr('CLIENT_TIMEOUT_MS', '20000')),
  // Shards the server runs (RINGCAST_WORKERS); only used to place connections on every core.
  workers: Number(envOr('RINGCAST_WORKERS', '1')),
  // RINGCAST_TLS=1: wss:// and https (trust the test CA through NODE_EXTRA_CA_CERTS).
  tls: envOr('RINGCAST_TLS', '0') === '1',
};
if (!Number.isInteger(env.port) || env.port <= 0 || env.port > 65535) {
  fail(`RINGCAST_PORT must be a port number, got ${JSON.stringify(process.env.RINGCAST_PORT)}`);
}

if (process.env.CLIENT_DEBUG) {
  PusherJS.log = (msg) => process.stderr.write(`[pusher-js] ${msg}\n`);
}

let currentStep = 'start';
/** Record (and print) what the script is doing, so a timeout says where it stuck. */
function step(name) {
  currentStep = name;
  if (process.env.CLIENT_DEBUG) process.stderr.write(`[step] ${name}\n`);
}

function say(line) {
  process.stdout.write(`${line}\n`);
}

const clients = [];
let finishing = false; // set once the script succeeded: closing connections is then expected

/**
 * Run the script body with a hard timeout. `body` returns the final line (must start
 * with `ok`); any throw/rejection is a failure.
 */
function main(body) {
  setTimeout(
    () => fail(`timed out after ${env.timeoutMs} ms while: ${currentStep}`),
    env.timeoutMs,
  );
  process.on('unhandledRejection', fail);
  process.on('uncaughtException', fail);
  Promise.resolve()
    .then(serverReachable)
    .then(body)
    .then((last) => {
      if (typeof last !== 'string' || !last.startsWith('ok')) {
        fail(`script body returned ${JSON.stringify(last)} instead of an ok line`);
      }
      finishing = true;
      say(last);
      for (const c of clients) c.disconnect();
      process.exit(0);
    }, fail);
}

/** pusher-js waits 10 s before reporting `unavailable`; probe TCP first to fail fast. */
function serverReachable() {
  step(`connecting to ${env.host}:${env.port}`);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: env.host, port: env.port });
    s.once('connect', () => {
      s.destroy();
      resolve();
    });
    s.once('error', (e) =>
      reject(new Error(`ringcast is not reachable at ${env.host}:${env.port}: ${e.code || e.message}`)),
    );
  });
}

/** The Node server SDK, pointed at ringcast over plain HTTP. */
function sdk() {
  return new PusherSDK({
    appId: env.appId,
    key: env.key,
    secret: env.secret,
    host: env.host,
    port: env.port,
    useTLS: env.tls,
    timeout: env.timeoutMs,
  });
}

/** pusher-js channelAuthorization.customHandler signing locally with the server SDK. */
function authHandler(server) {
  return ({ socketId, channelName }, callback) => {
    try {
      const presence = channelName.startsWith('presence-')
        ? { user_id: `user-${socketId}`, user_info: { socket: socketId } }
        : undefined;
      callback(null, server.authorizeChannel(socketId, channelName, presence));
    } catch (e) {
      callback(e, null);
    }
  };
}

/** pusher-js options for ringcast (plain ws only, no stats, no HTTP fallbacks). */
function clientOptions(extra) {
  return {
    wsHost: env.host,
    wsPort: env.port,
    wssPort: env.port,
    forceTLS: env.tls,
    enabledTransports: ['ws'],
    enableStats: false, // = the deprecated `disableStats: true`
    cluster: 'mt1',
    ...extra,
  };
}

/**
 * Connect a pusher-js client and resolve once the server assigned a socket id.
 * `authorize` overrides the channel authorisation handler (default: sign with `server`).
 */
function connect(server, label = 'client', authorize = authHandler(server)) {
  const client = new PusherJS(env.key, clientOptions({ channelAuthorization: { customHandler: authorize } }));
  watchConnection(client, label);
  step(`${label}: waiting for pusher:connection_established`);
  return new Promise((resolve) => {
    if (client.connection.state === 'connected') resolve(client);
    else client.connection.bind('connected', () => resolve(client));
  });
}

/**
 * Any connection-level error or loss of the connection fails the script with the detail.
 * Watched clients are disconnected when the script succeeds.
 */
function watchConnection(client, label) {
  clients.push(client);
  client.connection.bind('error', (e) => {
    if (finishing || client.ringcastErrors) return;
    fail(`${client.label || label}: connection error ${describe(e)}`);
  });
  client.connection.bind('state_change', ({ previous, current }) => {
    if (finishing || client.ringcastClosing) return;
    if (['unavailable', 'failed'].includes(current) || (previous === 'connected' && current !== 'connected')) {
      fail(`${client.label || label}: connection went ${previous} -> ${current} during: ${currentStep}`);
    }
  });
}

/** Subscribe and resolve on pusher:subscription_succeeded; reject on subscription_error. */
function subscribe(client, channelName) {
  step(`subscribing to ${channelName}`);
  const channel = client.subscribe(channelName);
  return new Promise((resolve, reject) => {
    channel.bind('pusher:subscription_succeeded', () => resolve(channel));
    channel.bind('pusher:subscription_error', (e) =>
      reject(new Error(`subscription to ${channelName} failed: ${describe(e)}`)),
    );
  });
}

/** Resolve with the data of the next `count` events named `event` on `channel`. */
function collect(channel, event, count) {
  const got = [];
  return new Promise((resolve) => {
    channel.bind(event, (data) => {
      got.push(data);
      if (got.length === count) resolve(got.slice());
    });
  });
}

function rand() {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

function describe(x) {
  if (x instanceof Error) return x.message;
  try {
    return JSON.stringify(x);
  } catch {
    return String(x);
  }
}

function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Protocol-parity helpers (presence, user sign-in, client events, several cores)

/**
 * Connect a pusher-js client whose identity is decided late: presence subscriptions are signed
 * with `client.presenceUser` ({user_id, user_info}), `pusher.signin()` with `client.signinUser`
 * ({id, user_info, ...}); both default to a user derived from the socket id.
 */
function connectAs(server, label = 'client', extra = {}) {
  let client;
  const channelAuth = ({ socketId, channelName }, callback) => {
    try {
      const presence = channelName.startsWith('presence-')
        ? client.presenceUser || { user_id: `user-${socketId}`, user_info: { socket: socketId } }
        : undefined;
      callback(null, server.authorizeChannel(socketId, channelName, presence));
    } catch (e) {
      callback(e, null);
    }
  };
  const userAuth = ({ socketId }, callback) => {
    try {
      callback(null, server.authenticateUser(socketId, client.signinUser || { id: `user-${socketId}` }));
    } catch (e) {
      callback(e, null);
    }
  };
  client = new PusherJS(
    env.key,
    clientOptions({
      channelAuthorization: { customHandler: channelAuth },
      userAuthentication: { customHandler: userAuth },
      ...extra,
    }),
  );
  client.label = label;
  watchConnection(client, label);
  step(`${label}: waiting for pusher:connection_established`);
  return new Promise((resolve) => {
    if (client.connection.state === 'connected') resolve(client);
    else client.connection.bind('connected', () => resolve(client));
  });
}

/**
 * The shard a connection landed on. ringcast's socket id is `random.lo` with
 * lo = counter * workers + shard (src/shard/state.rs, next_socket_id).
 */
function shardOf(client) {
  const lo = String(client.connection.socket_id).split('.')[1];
  return Number(BigInt(lo) % BigInt(env.workers));
}

/**
 * Open `n` connections (SO_REUSEPORT spreads them over the shards), then more while a shard
 * has none: the kernel's spread is random (8 connections all land on one of two shards once
 * in 128 runs). Fails only if a shard still has none after 8n connections. Returns the
 * clients; those not used stay open as idle ballast.
 */
async function pool(server, n, label = 'conn') {
  const clients = await Promise.all(Array.from({ length: n }, (_, i) => connectAs(server, `${label} ${i}`)));
  const perShard = Array.from({ length: env.workers }, () => 0);
  for (const cl of clients) perShard[shardOf(cl)]++;
  while (perShard.some((x) => x === 0) && clients.length < 8 * n) {
    const cl = await connectAs(server, `${label} ${clients.length}`);
    clients.push(cl);
    perShard[shardOf(cl)]++;
  }
  if (perShard.some((x) => x === 0)) {
    throw new Error(
      `${clients.length} connections did not reach every shard (per shard: ${JSON.stringify(perShard)}); ` +
        'SO_REUSEPORT should spread them',
    );
  }
  say(`pool ${clients.length} connections, per shard ${JSON.stringify(perShard)}`);
  return clients;
}

/**
 * Take `k` clients out of `clients` (removing them), alternating shards 0,1,..: the i-th
 * picked client is on shard i % workers when the pool has one left there.
 */
function takeSpread(clients, k, labels) {
  const picked = [];
  for (let i = 0; i < k; i++) {
    const want = i % env.workers;
    let idx = clients.findIndex((cl) => shardOf(cl) === want);
    if (idx < 0) idx = 0;
    if (clients.length === 0) throw new Error(`connection pool exhausted after ${i} of ${k}`);
    const [cl] = clients.splice(idx, 1);
    if (labels && labels[i]) cl.label = labels[i];
    picked.push(cl);
  }
  return picked;
}

/** Disconnect `client` on purpose (watchConnection no longer treats its close as a failure). */
function hangUp(client) {
  client.ringcastClosing = true;
  client.disconnect();
}

/** Record connection-level errors (pusher:error, close codes) on `client.errors` instead of failing. */
function recordErrors(client) {
  client.ringcastErrors = true;
  client.errors = [];
  client.connection.bind('error', (e) => client.errors.push(e));
  return client.errors;
}

/** Every decoded Pusher message `client` receives (raw: event, channel, data, user_id). */
function recordMessages(client) {
  const got = [];
  client.connection.bind('message', (m) => got.push(m));
  return got;
}

/** The `code` of a pusher-js connection error (pusher:error message or close frame), if any. */
function errorCode(e) {
  if (!e) return undefined;
  if (e.data && e.data.code !== undefined) return e.data.code;
  if (e.error) return errorCode(e.error);
  return undefined;
}

/** Resolve with the first `event` on `target` (a channel or pusher.user) — its data and metadata. */
function once(target, event) {
  return new Promise((resolve) => {
    const handler = (data, metadata) => {
      target.unbind(event, handler);
      resolve({ data, metadata });
    };
    target.bind(event, handler);
  });
}

/** Resolve when `cond()` holds (polled every 10 ms). */
async function until(cond) {
  while (!cond()) await sleep(10);
}

/**
 * `what` (a promise, or a condition function for `until`) must settle within `ms`; otherwise
 * reject with `message` (a string or a function returning one, evaluated at the deadline).
 */
function within(ms, what, message) {
  const p = typeof what === 'function' ? until(what) : what;
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${typeof message === 'function' ? message() : message} (waited ${ms} ms)`)),
      ms,
    );
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * laravel-echo with `broadcaster: 'reverb'` over pusher-js, private channels authorised through
 * Echo's `authorizer` option with the server SDK; its connection is watched (and closed by main).
 */
async function echo(server) {
  // laravel-echo 2.x ships "type": "module" with a CommonJS `require` build (echo.common.js)
  // that Node refuses to load ("exports is not defined in ES module scope"): import the ESM build.
  const { default: Echo } = await import('laravel-echo');
  const instance = new Echo({
    broadcaster: 'reverb',
    Pusher: PusherJS, // Echo 2.x takes the client class here; no `window.Pusher` needed in Node
    key: env.key,
    wsHost: env.host,
    wsPort: env.port,
    wssPort: env.port,
    forceTLS: env.tls,
    enabledTransports: ['ws'],
    enableStats: false,
    // pusher-js 8 callback signature: (error | null, authData)
    authorizer: (channel) => ({
      authorize: (socketId, callback) => {
        try {
          callback(null, server.authorizeChannel(socketId, channel.name));
        } catch (e) {
          callback(e, null);
        }
      },
    }),
  });
  watchConnection(instance.connector.pusher, 'echo');
  return instance;
}

module.exports = {
  PusherJS,
  PusherSDK,
  env,
  main,
  fail,
  step,
  say,
  sdk,
  authHandler,
  clientOptions,
  connect,
  watchConnection,
  subscribe,
  collect,
  rand,
  describe,
  assertEqual,
  sleep,
  connectAs,
  shardOf,
  pool,
  takeSpread,
  hangUp,
  recordErrors,
  recordMessages,
  errorCode,
  once,
  until,
  within,
  echo,
};
