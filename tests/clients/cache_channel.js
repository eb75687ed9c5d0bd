'use strict';
// Cache channels: the Node SDK triggers `update` {v:1} then {v:2} on cache-<rand> before anyone
// subscribes; two pusher-js clients (different shards) subscribe and each gets {v:2} as the
// first event after pusher:subscription_succeeded, and no pusher:cache_miss. A subscriber of
// cache-empty-<rand> (nothing triggered) gets pusher:cache_miss on the channel and no event.
// Usage: node cache_channel.js        Prints: progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  const server = c.sdk();
  const id = c.rand();
  const cached = `cache-${id}`;
  const empty = `cache-empty-${id}`;
  c.step(`SDK triggers update v1, v2 on ${cached} with no subscribers`);
  await server.trigger(cached, 'update', { v: 1 });
  await server.trigger(cached, 'update', { v: 2 });
  const conns = await c.pool(server, 8, 'cache');
  const clients = c.takeSpread(conns, 2, ['client A', 'client B']);

  const seen = [];
  for (const cl of clients) {
    const raw = c.recordMessages(cl);
    const ch = cl.subscribe(cached);
    const events = [];
    seen.push([cl, events]);
    ch.bind_global((event, data) => events.push([event, data]));
    c.step(`${cl.label}: waiting for the cached update on ${cached}`);
    await c.within(5000,
      () => events.some(([e]) => e === 'update' || e === 'pusher:cache_miss' || e === 'pusher:subscription_error'),
      () => `${cl.label}: no cached update on ${cached}; events: ${c.describe(events)}`);
    const mine = raw.filter((m) => m.channel === cached).map((m) => m.event);
    c.assertEqual(mine.slice(0, 2), ['pusher_internal:subscription_succeeded', 'update'],
      `${cl.label}: first messages on ${cached}`);
    c.assertEqual(events.find(([e]) => e === 'update')[1], { v: 2 }, `${cl.label}: cached update data`);
    c.say(`${cl.label} (shard ${c.shardOf(cl)}) got the cached update`);
  }
  // Still no cache_miss after a marker.
  const marker = c.once(clients[0].channel(cached), 'marker');
  await server.trigger(cached, 'marker', {});
  await marker;
  for (const [cl, events] of seen) {
    const misses = events.filter(([ev]) => ev === 'pusher:cache_miss').length;
    if (misses) throw new Error(`${cl.label}: pusher:cache_miss on ${cached}, which has a cached event`);
  }

  const [e] = clients;
  const ch = e.subscribe(empty);
  const events = [];
  ch.bind_global((event, data) => events.push([event, data]));
  c.step(`waiting for pusher:cache_miss on ${empty}`);
  await c.within(5000, () => events.some(([ev]) => ev === 'pusher:cache_miss' || ev === 'pusher:subscription_error'),
    () => `no pusher:cache_miss on ${empty}; events: ${c.describe(events)}`);
  c.assertEqual(events.map(([ev]) => ev), ['pusher:subscription_succeeded', 'pusher:cache_miss'], `events on ${empty}`);
  c.say('cache_miss ok');
  return 'ok';
});
