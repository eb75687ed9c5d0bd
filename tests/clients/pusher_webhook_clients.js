'use strict';
// Drives the cache miss, occupancy and membership transitions that Pusher channel webhooks report, with
// connections spread over every shard: users u1 (two connections on different shards), u2 and
// u3 join and leave presence-hooks-<id> twice (u2 sends one client event meanwhile), and four connections join and leave
// hooks-<id> twice. The presence rounds follow each other at once (the second undoes the first's
// held-back leaves); the public rounds are further apart than that delay. Each step waits for the cores to exchange their announcements, and each
// round ends only once the REST API reports the channel vacant (an unsubscribe has no answer).
// Usage: node pusher_webhook_clients.js <id>     Prints progress lines, then `ok`.
const c = require('./common');

const STEP_MS = 150;
const LEAVE_DELAY_MS = 3000;

c.main(async () => {
  const id = process.argv[2];
  const server = c.sdk();
  const conns = await c.pool(server, 12, 'hooks');
  const [a, b, d, e] = c.takeSpread(conns, 4, ['u1 tab 1', 'u1 tab 2', 'u2', 'u3']);
  const users = new Map([[a, 'u1'], [b, 'u1'], [d, 'u2'], [e, 'u3']]);
  for (const [cl, user] of users) cl.presenceUser = { user_id: user, user_info: {} };
  c.say(`placement ${JSON.stringify([a, b, d, e].map((cl) => `${cl.label}@shard${c.shardOf(cl)}`))}`);

  async function join(cl, name) {
    c.step(`${cl.label} joining ${name}`);
    const ch = cl.subscribe(name);
    await c.within(5000, c.once(ch, 'pusher:subscription_succeeded'), `${cl.label}: no subscription_succeeded on ${name}`);
    await c.sleep(STEP_MS);
  }
  async function leave(cl, name) {
    c.step(`${cl.label} leaving ${name}`);
    cl.unsubscribe(name);
    await c.sleep(STEP_MS);
  }
  async function vacant(name) {
    c.step(`waiting for ${name} to be vacant`);
    for (;;) {
      const info = await (await server.get({ path: `/channels/${name}` })).json();
      if (info.occupied === false) return;
      await c.sleep(20);
    }
  }

  const cache = `cache-hooks-${id}`;
  c.step(`${a.label} subscribing to ${cache}, which has no cached event`);
  const missed = c.once(a.subscribe(cache), 'pusher:cache_miss');
  await c.within(5000, missed, `${a.label}: no pusher:cache_miss on ${cache}`);
  await leave(a, cache);
  await vacant(cache);

  const presence = `presence-hooks-${id}`;
  for (const cl of [a, b, d, e]) await join(cl, presence);
  c.step('u2 sending client-hi; waiting for u1 to receive it');
  const heard = c.once(a.channel(presence), 'client-hi');
  d.channel(presence).trigger('client-hi', { n: 1 });
  await c.within(5000, heard, 'u1 did not receive client-hi');
  c.say(`client event sent by ${d.connection.socket_id}`);
  for (const cl of [a, d, b, e]) await leave(cl, presence);
  await vacant(presence);
  for (const cl of [e, b]) await join(cl, presence);
  for (const cl of [b, e]) await leave(cl, presence);
  await vacant(presence);
  c.say('presence rounds done');

  const open = `hooks-${id}`;
  for (const cl of [a, b, d, e]) await join(cl, open);
  for (const cl of [b, a, e, d]) await leave(cl, open);
  await vacant(open);
  c.step('waiting out the 3 s a channel_vacated is held back, so the next join is a new transition');
  await c.sleep(LEAVE_DELAY_MS + 1000);
  await join(b, open);
  await leave(b, open);
  await vacant(open);
  c.say('public rounds done');
  return 'ok';
});
