'use strict';
// End-to-end encrypted channels: the Node SDK has encryptionMasterKeyBase64 (32 random bytes),
// so authorizeChannel adds shared_secret and trigger encrypts. Two pusher-js clients (node build,
// which bundles tweetnacl) on different shards subscribe to private-encrypted-<rand>; the SDK
// triggers `secret` {msg:'hi'}; both get {msg:'hi'} decrypted, and the wire carries only
// {nonce, ciphertext}. Client events on the channel: pusher-js refuses to send them, and one
// sent anyway is refused by the server (pusher:error) and never reaches the other client.
// Usage: node encrypted.js        Prints: progress lines, then `ok`.
const crypto = require('crypto');
const c = require('./common');

c.main(async () => {
  const server = new c.PusherSDK({
    appId: c.env.appId,
    key: c.env.key,
    secret: c.env.secret,
    host: c.env.host,
    port: c.env.port,
    useTLS: false,
    timeout: c.env.timeoutMs,
    encryptionMasterKeyBase64: crypto.randomBytes(32).toString('base64'),
  });
  const name = `private-encrypted-${c.rand()}`;
  const conns = await c.pool(server, 8, 'encrypted');
  const [a, b] = c.takeSpread(conns, 2, ['client A', 'client B']);
  const aRaw = c.recordMessages(a);
  const bRaw = c.recordMessages(b);
  const chA = await c.subscribe(a, name);
  const chB = await c.subscribe(b, name);
  if (!chA.key) throw new Error('pusher-js holds no key for the encrypted channel (no shared_secret?)');
  c.say('subscribed');

  const got = [c.once(chA, 'secret'), c.once(chB, 'secret')];
  c.step(`SDK triggers secret on ${name}; waiting for the decrypted data at A and B`);
  await server.trigger(name, 'secret', { msg: 'hi' });
  for (const g of await Promise.all(got)) c.assertEqual(g.data, { msg: 'hi' }, 'decrypted secret');
  const wire = aRaw.find((m) => m.channel === name && m.event === 'secret');
  const keys = Object.keys(wire.data || {}).sort();
  c.assertEqual(keys, ['ciphertext', 'nonce'], 'fields of the encrypted event on the wire');
  c.say('decrypted ok');

  try {
    chA.trigger('client-x', { n: 1 });
    throw new Error('pusher-js sent a client event on an encrypted channel');
  } catch (e) {
    if (!/not currently supported/.test(e.message)) throw e;
  }
  const aErrors = c.recordErrors(a);
  c.step('A sends client-x on the encrypted channel anyway; waiting for pusher:error');
  a.send_event('client-x', { n: 1 }, name);
  await c.within(5000, () => aErrors.length > 0, 'no pusher:error for a client event on an encrypted channel');
  c.say(`client event refused ${c.describe(aErrors[0])}`);
  const marker = c.once(chB, 'marker');
  await server.trigger(name, 'marker', { m: 1 });
  await marker;
  if (bRaw.some((m) => m.event === 'client-x')) throw new Error('B received a client event on an encrypted channel');
  c.say('client events refused');
  return 'ok';
});
