'use strict';
// pusher-js against ringcast: public + private channels, a forged private auth
// (must surface as pusher:subscription_error on that channel), the socket id
// format, and socket_id exclusion on trigger.
// Usage: node pusherjs_channels.js        Prints: progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  const server = c.sdk();
  const id = c.rand();
  const pub = `public-${id}`;
  const priv = `private-${id}`;
  const bad = `private-bad-${id}`;

  // A signs every channel properly except `bad`, for which it sends a forged signature.
  // The handler never errors, so a subscription_error on `bad` can only come from the server.
  const forged = { auth: `${c.env.key}:${'0'.repeat(64)}` };
  const sign = c.authHandler(server);
  const a = await c.connect(server, 'client A', (params, cb) =>
    params.channelName === bad ? cb(null, forged) : sign(params, cb),
  );
  const socketId = a.connection.socket_id;
  if (!/^\d+\.\d+$/.test(socketId)) throw new Error(`socket_id ${JSON.stringify(socketId)} is not \\d+.\\d+`);
  c.say(`connected ${socketId}`);

  const [pubA, privA] = await Promise.all([c.subscribe(a, pub), c.subscribe(a, priv)]);
  c.say('subscribed');

  // Both channels receive a server-triggered event with the right data.
  const gotPub = c.collect(pubA, 'greet', 1);
  const gotPriv = c.collect(privA, 'greet', 1);
  c.step('triggering greet on both channels');
  await server.trigger([pub, priv], 'greet', { n: 1 });
  c.step(`waiting for greet on ${pub}`);
  c.assertEqual(await gotPub, [{ n: 1 }], `greet on ${pub}`);
  c.step(`waiting for greet on ${priv}`);
  c.assertEqual(await gotPriv, [{ n: 1 }], `greet on ${priv}`);
  c.say('greet received');

  // A forged signature: the server must answer pusher:subscription_error on that channel
  // (a connection-level pusher:error would fail the script through watchConnection).
  c.step(`subscribing to ${bad} with a forged signature`);
  const badChannel = a.subscribe(bad);
  await new Promise((resolve, reject) => {
    badChannel.bind('pusher:subscription_error', (e) => {
      c.say(`subscription_error ${c.describe(e)}`);
      resolve();
    });
    badChannel.bind('pusher:subscription_succeeded', () =>
      reject(new Error(`${bad} was accepted with a forged signature`)),
    );
  });

  // socket_id exclusion: A triggers "as itself" — A must not get it, B must.
  const b = await c.connect(server, 'client B');
  const pubB = await c.subscribe(b, pub);
  const gotB = c.collect(pubB, 'excluded', 1);
  let aGotExcluded = false;
  pubA.bind('excluded', () => (aGotExcluded = true));
  c.step('triggering with socket_id exclusion');
  await server.trigger(pub, 'excluded', { n: 2 }, { socket_id: socketId });
  c.assertEqual(await gotB, [{ n: 2 }], 'excluded event at client B');
  // A control event sent after it, to A: once A sees it, A would have seen the excluded one.
  const control = c.collect(pubA, 'control', 1);
  await server.trigger(pub, 'control', { n: 3 });
  await control;
  if (aGotExcluded) throw new Error('client A received an event triggered with its own socket_id');
  c.say('exclusion ok');

  return 'ok';
});
