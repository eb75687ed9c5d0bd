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
    useTLS: false,
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
    forceTLS: false,
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
  client.connection.bind('error', (e) => finishing || fail(`${label}: connection error ${describe(e)}`));
  client.connection.bind('state_change', ({ previous, current }) => {
    if (finishing) return;
    if (['unavailable', 'failed'].includes(current) || (previous === 'connected' && current !== 'connected')) {
      fail(`${label}: connection went ${previous} -> ${current} during: ${currentStep}`);
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
};
