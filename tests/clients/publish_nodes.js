'use strict';
// Publish on any ringcast node, received everywhere exactly once: two pusher-js clients on
// each listed node subscribe to one channel; the Node SDK, pointed at each node in turn,
// publishes <events> events there, each with a unique id in its data. Every client must get
// every id exactly once. The raw protocol messages are counted (pusher-js would not hide a
// duplicate there), and a marker published last on every node, seen by every client, proves
// nothing is still on its way before the counts are read.
// Usage: node publish_nodes.js <port,port,...> <events>   Prints progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  const ports = (process.argv[2] || '').split(',').map(Number);
  const perNode = Number(process.argv[3]);
  if (ports.length < 2 || !Number.isInteger(perNode) || perNode < 1) {
    throw new Error('usage: publish_nodes.js <port,port,...> <events per node>');
  }
  const name = `nodes-${c.rand()}`;
  const sdkOn = (port) => new c.PusherSDK({
    appId: c.env.appId, key: c.env.key, secret: c.env.secret,
    host: c.env.host, port, useTLS: false, timeout: c.env.timeoutMs,
  });
  const clients = [];
  for (const port of ports) {
    for (const k of [0, 1]) {
      const label = `client ${k}@${port}`;
      const cl = await c.connectAs(sdkOn(port), label, { wsPort: port, wssPort: port });
      cl.raw = c.recordMessages(cl);
      await c.subscribe(cl, name);
      clients.push(cl);
    }
  }
  c.say(`${clients.length} clients subscribed to ${name} on ${ports.length} nodes`);

  const ids = [];
  for (const port of ports) {
    const sdk = sdkOn(port);
    c.step(`publishing ${perNode} events through the node on ${port}`);
    for (let i = 0; i < perNode; i++) {
      const id = `${port}-${i}`;
      ids.push(id);
      await sdk.trigger(name, 'tick', { id });
    }
  }
  for (const port of ports) await sdkOn(port).trigger(name, 'marker', { port });
  const got = (cl, event) => cl.raw.filter((m) => m.channel === name && m.event === event);
  for (const cl of clients) {
    await c.within(10000, () => got(cl, 'marker').length >= ports.length,
      () => `${cl.label}: markers ${c.describe(got(cl, 'marker').map((m) => m.data))} of ${ports.length}`);
  }
  // A duplicate sent behind a marker would still be in flight: give it time to show.
  await c.sleep(300);
  for (const cl of clients) {
    const counts = new Map();
    for (const m of got(cl, 'tick')) counts.set(m.data.id, (counts.get(m.data.id) || 0) + 1);
    const wrong = ids.filter((id) => counts.get(id) !== 1).map((id) => `${id}x${counts.get(id) || 0}`);
    const stray = [...counts.keys()].filter((id) => !ids.includes(id));
    if (wrong.length || stray.length) {
      throw new Error(`${cl.label}: not exactly once: ${wrong.join(' ')} unexpected: ${stray.join(' ')}`);
    }
    c.assertEqual(got(cl, 'marker').length, ports.length, `${cl.label}: markers`);
  }
  c.say(`every client got all ${ids.length} events exactly once`);
  return 'ok';
});
