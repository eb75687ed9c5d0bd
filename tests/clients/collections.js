'use strict';
// Filtered collection subscriptions end to end with pusher-js: JWT-authenticated connections on
// every shard register filters through POST /api/realtime/subscribe, subscribe to the channel
// it answers, and a stream of record changes (REST /records and a Pusher event) checks exactly
// who receives what: enters, leaves, deletes, the list rule on @request.auth, socket_id
// exclusion. Then the refusals: 400 filters, 401 without a token, 403 without a registration.
// Usage: node collections.js   (the app must be the collections app of tests/collections.rs)
// Prints: `ok <JSON of what each subscriber received>`.
const crypto = require('crypto');
const c = require('./common');

const base = `http://${c.env.host}:${c.env.port}`;

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An HS256 JWT for `sub`, signed with the app secret as connection auth expects. */
function jwt(sub) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url({ sub, exp: Math.floor(Date.now() / 1000) + 600, role: 'member' });
  const sig = crypto.createHmac('sha256', c.env.secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// pusher-js cannot add a query parameter to its WebSocket URL; the token rides on it here.
let dialToken = '';
const runtime = c.PusherJS.Runtime;
const createWebSocket = runtime.createWebSocket;
runtime.createWebSocket = (url) => createWebSocket.call(runtime, `${url}&token=${dialToken}`);

/** A connection of `user` on shard `shard` (retrying until SO_REUSEPORT places one there). */
async function connectOn(server, user, shard, label) {
  for (let i = 0; i < 40; i++) {
    dialToken = jwt(user);
    const client = await c.connectAs(server, label);
    if (c.shardOf(client) === shard) {
      client.token = dialToken;
      return client;
    }
    c.hangUp(client);
  }
  throw new Error(`no connection of ${user} reached shard ${shard}`);
}

async function register(token, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/api/realtime/subscribe`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** Registers `filter` on `collection`, subscribes, and records every change received. */
async function follow(client, collection, filter) {
  const socket_id = client.connection.socket_id;
  const res = await register(client.token, { collection, socket_id, filter });
  if (res.status !== 200) throw new Error(`${client.label}: subscribe answered ${res.status} ${JSON.stringify(res.body)}`);
  c.assertEqual(res.body.channel_name, `velo.realtime.${collection}`, 'channel_name');
  const channel = await c.subscribe(client, res.body.channel_name);
  client.got = [];
  for (const event of ['created', 'updated', 'deleted']) {
    channel.bind(event, (data) => {
      if (data.action !== event) throw new Error(`${client.label}: ${event} carried action ${data.action}`);
      client.got.push(`${event} ${data.record.id}`);
    });
  }
  return client;
}

async function change(server, collection, action, record, previous, socketId) {
  const body = { collection, action, record };
  if (previous) body.previous = previous;
  if (socketId) body.socket_id = socketId;
  await server.post({ path: '/records', body });
}

c.main(async () => {
  const server = c.sdk();
  const subs = {};
  for (const shard of [0, 1]) {
    subs[`active${shard}`] = await follow(await connectOn(server, 'alice', shard, `active${shard}`), 'posts', "status = 'active'");
    subs[`mine${shard}`] = await follow(await connectOn(server, 'bob', shard, `mine${shard}`), 'posts', 'author = @request.auth.id');
    subs[`big${shard}`] = await follow(await connectOn(server, 'carol', shard, `big${shard}`), 'orders', "total > 100 && currency = 'EUR'");
  }
  // The list rule `owner = @request.auth.id` alone, on both cores.
  subs.notes = await follow(await connectOn(server, 'dave', 1, 'notes'), 'notes', '');
  subs.notes0 = await follow(await connectOn(server, 'erin', 0, 'notes0'), 'notes', '');
  c.say('ready');

  c.step('streaming record changes');
  await change(server, 'posts', 'created', { id: 1, status: 'active', author: 'bob' });
  await change(server, 'posts', 'created', { id: 2, status: 'draft', author: 'alice' });
  await change(server, 'posts', 'updated', { id: 1, status: 'draft', author: 'bob' }, { id: 1, status: 'active', author: 'bob' });
  await change(server, 'posts', 'updated', { id: 2, status: 'active', author: 'alice' }, { id: 2, status: 'draft', author: 'alice' });
  await change(server, 'posts', 'deleted', { id: 2, status: 'active', author: 'alice' });
  await server.trigger('velo.realtime.posts', 'created', { action: 'created', record: { id: 3, status: 'active', author: 'zed' } });
  await change(server, 'posts', 'created', { id: 4, status: 'active', author: 'zed' }, null, subs.active0.connection.socket_id);
  await change(server, 'orders', 'created', { id: 10, total: 150, currency: 'EUR' });
  await change(server, 'orders', 'created', { id: 11, total: 150, currency: 'USD' });
  await change(server, 'orders', 'created', { id: 12, total: 50, currency: 'EUR' });
  await change(server, 'notes', 'created', { id: 20, owner: 'dave' });
  await change(server, 'notes', 'created', { id: 21, owner: 'erin' });
  await server.post({
    path: '/records',
    body: {
      records: [
        { collection: 'posts', action: 'created', record: { id: 99, status: 'active', author: 'bob' } },
        { collection: 'orders', action: 'created', record: { id: 99, total: 999, currency: 'EUR' } },
        { collection: 'notes', action: 'created', record: { id: 99, owner: 'dave' } },
        { collection: 'notes', action: 'created', record: { id: 99, owner: 'erin' } },
      ],
    },
  });
  const last = Object.values(subs);
  await c.within(5000, () => last.every((s) => s.got.includes('created 99')), () =>
    `not every subscriber got the last record: ${JSON.stringify(Object.fromEntries(Object.entries(subs).map(([k, s]) => [k, s.got])))}`);

  const active = ['created 1', 'deleted 1', 'created 2', 'deleted 2', 'created 3'];
  const expected = {
    active0: [...active, 'created 99'],
    active1: [...active, 'created 4', 'created 99'],
    mine0: ['created 1', 'updated 1', 'created 99'],
    mine1: ['created 1', 'updated 1', 'created 99'],
    big0: ['created 10', 'created 99'],
    big1: ['created 10', 'created 99'],
    notes: ['created 20', 'created 99'],
    notes0: ['created 21', 'created 99'],
  };
  for (const [name, want] of Object.entries(expected)) c.assertEqual(subs[name].got, want, name);

  c.step('unsubscribing drops the registration');
  const raw = c.recordMessages(subs.mine1); // pusher-js drops events of channels it left
  subs.mine1.unsubscribe('velo.realtime.posts');
  // No answer to an unsubscribe; the refused re-subscribe on the same socket orders it.
  const again = subs.mine1.subscribe('velo.realtime.posts');
  const dropped = await c.within(5000, c.once(again, 'pusher:subscription_error'), 'no subscription_error after unsubscribing');
  c.assertEqual(dropped.data.status, 403, 'subscription status after unsubscribing');
  await change(server, 'posts', 'created', { id: 100, status: 'draft', author: 'bob' });
  await c.within(5000, () => subs.mine0.got.includes('created 100'), 'mine0 did not get record 100');
  await c.sleep(100);
  const late = raw.filter((m) => m.channel === 'velo.realtime.posts' && m.event === 'created');
  if (late.length) throw new Error(`mine1 got records after unsubscribing: ${JSON.stringify(late)}`);

  c.step('refusals');
  const probe = subs.notes;
  const socket_id = probe.connection.socket_id;
  const bad = await register(probe.token, { collection: 'posts', socket_id, filter: "status = " });
  if (bad.status !== 400 || !/expected .* at byte 9/.test(bad.body.error)) throw new Error(`bad filter: ${JSON.stringify(bad)}`);
  const long = await register(probe.token, { collection: 'posts', socket_id, filter: `a = '${'x'.repeat(2600)}'` });
  if (long.status !== 400 || !/2500/.test(long.body.error)) throw new Error(`long filter: ${JSON.stringify(long)}`);
  const anonymous = await register(null, { collection: 'posts', socket_id });
  if (anonymous.status !== 401) throw new Error(`no token: ${JSON.stringify(anonymous)}`);
  const stranger = await register(jwt('mallory'), { collection: 'posts', socket_id });
  if (stranger.status !== 401) throw new Error(`another user's token: ${JSON.stringify(stranger)}`);
  const unknown = await register(probe.token, { collection: 'nope', socket_id });
  if (unknown.status !== 404) throw new Error(`unknown collection: ${JSON.stringify(unknown)}`);
  const refused = probe.subscribe('velo.realtime.orders');
  const error = await c.within(5000, c.once(refused, 'pusher:subscription_error'), 'no subscription_error');
  c.assertEqual(error.data.status, 403, 'unregistered subscription status');
  return `ok ${JSON.stringify(Object.fromEntries(Object.entries(subs).map(([k, s]) => [k, s.got])))}`;
});
