'use strict';
// N pusher-js clients on one public channel; K events through the Node SDK. Every client
// must get every event exactly once and in order. A final `end` event (same channel,
// triggered last) marks the end, so duplicates/gaps are detected without sleeping.
// Usage: node pusherjs_many.js <clients> <events>
// Prints: `ready` once all clients are subscribed, then `ok <clients> clients x <events> events`.
const c = require('./common');

const [n, k] = process.argv.slice(2).map(Number);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 1) {
  c.fail('usage: pusherjs_many.js <clients> <events>');
}

c.main(async () => {
  const server = c.sdk();
  const name = `public-many-${c.rand()}`;
  const received = [];
  const ended = [];

  const clients = await Promise.all(Array.from({ length: n }, (_, i) => c.connect(server, `client ${i}`)));
  const channels = await Promise.all(clients.map((cl) => c.subscribe(cl, name)));
  channels.forEach((ch, i) => {
    received[i] = [];
    ch.bind('tick', (data) => received[i].push(data.i));
    ended[i] = c.collect(ch, 'end', 1);
  });
  c.say('ready');

  for (let i = 0; i < k; i++) {
    c.step(`triggering tick ${i} of ${k}`);
    await server.trigger(name, 'tick', { i }); // sequential: publish order is well defined
  }
  c.step('triggering end');
  await server.trigger(name, 'end', {});

  c.step('waiting for every client to receive end');
  await Promise.all(ended);
  const expected = Array.from({ length: k }, (_, i) => i);
  received.forEach((got, i) => c.assertEqual(got, expected, `ticks at client ${i}`));
  return `ok ${n} clients x ${k} events`;
});
