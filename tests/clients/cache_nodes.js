'use strict';
// Cache channels across ringcast nodes joined through Redis. With `publish`, the Node SDK
// triggers `update` {v:1} then {v:2} on cache-<id> and private-cache-<id> through the node at
// RINGCAST_PORT; then (both modes) a pusher-js client on each listed node subscribes to both
// and must get {v:2} as the first event after pusher_internal:subscription_succeeded, with no
// pusher:cache_miss, and a subscriber of cache-empty-<id> (never published) gets
// pusher:cache_miss and no event. Run with `read` against a node started after the publish,
// it checks that the event lives in the cluster, not only in the nodes that saw it.
// Usage: node cache_nodes.js <publish|read> <id> <port,port,...>   Prints progress, then `ok`.
const c = require('./common');

/** The first messages `cl` gets on `name` once subscribed, up to the update or a miss. */
async function firstMessages(cl, name) {
  const raw = c.recordMessages(cl);
  await c.subscribe(cl, name);
  const mine = () => raw.filter((m) => m.channel === name && !m.event.startsWith('pusher_internal:subscription'));
  const done = () => mine().some((m) => ['update', 'pusher:cache_miss'].includes(m.event));
  await c.within(5000, done, () => `${cl.label}: nothing after subscribing to ${name}; got ${c.describe(mine())}`);
  return mine().map((m) => [m.event, m.data]);
}

c.main(async () => {
  const [mode, id, portList] = process.argv.slice(2);
  if (!['publish', 'read'].includes(mode) || !id || !portList) {
    throw new Error('usage: cache_nodes.js <publish|read> <id> <port,port,...>');
  }
  const ports = portList.split(',').map(Number);
  const server = c.sdk();
  const cached = [`cache-${id}`, `private-cache-${id}`];
  if (mode === 'publish') {
    for (const name of cached) {
      c.step(`SDK triggers update v1, v2 on ${name} with no subscribers`);
      await server.trigger(name, 'update', { v: 1 });
      await server.trigger(name, 'update', { v: 2 });
    }
  }
  for (const port of ports) {
    const cl = await c.connectAs(server, `client@${port}`, { wsPort: port, wssPort: port });
    for (const name of cached) {
      const got = await firstMessages(cl, name);
      c.assertEqual(got[0], ['update', { v: 2 }], `${cl.label}: first event on ${name}`);
    }
    const empty = `cache-empty-${id}-${port}`;
    c.assertEqual(await firstMessages(cl, empty), [['pusher:cache_miss', undefined]], `${cl.label}: events on ${empty}`);
    c.say(`${cl.label} got the cached updates and a cache_miss`);
  }
  return 'ok';
});
