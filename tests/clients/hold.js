'use strict';
// Hold subscriptions open for REST queries made by someone else (e.g. python_channels.py).
// Each spec is one pusher-js connection: `<channel>` or `<presence-channel>@<user_id>`
// (user_info {name: user_id}). Connections are spread over the shards (a pool of at least 8).
// Usage: node hold.js <spec>...
// Prints: `pool ...`, `ready <JSON [[spec, socket_id, shard], ...]>`, then holds them for
// HOLD_MS (default CLIENT_TIMEOUT_MS - 2 s) and prints `ok`.
const c = require('./common');

const specs = process.argv.slice(2);
if (specs.length === 0) c.fail('usage: hold.js <channel>[@<user_id>]...');

c.main(async () => {
  const server = c.sdk();
  const conns = await c.pool(server, Math.max(8, specs.length + 2), 'hold');
  const picked = c.takeSpread(conns, specs.length, specs);
  const placed = [];
  for (let i = 0; i < specs.length; i++) {
    const [channel, user] = specs[i].split('@');
    const cl = picked[i];
    if (user) cl.presenceUser = { user_id: user, user_info: { name: user } };
    await c.subscribe(cl, channel);
    placed.push([specs[i], cl.connection.socket_id, c.shardOf(cl)]);
  }
  c.say(`ready ${JSON.stringify(placed)}`);
  const hold = Number(process.env.HOLD_MS || c.env.timeoutMs - 2000);
  c.step(`holding ${specs.length} subscriptions for ${hold} ms`);
  await c.sleep(hold);
  return 'ok';
});
