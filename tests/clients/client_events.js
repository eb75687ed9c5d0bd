'use strict';
// Client events between two pusher-js clients on different shards.
//  - private-chat-<rand>: A triggers client-typing {who:'a'}; B gets the data, with no user_id
//    on the wire; A does not get its own event.
//  - presence-chat-<rand>: B's handler gets metadata.user_id = A's user id.
//  - public-chat-<rand>: the server refuses a client event with pusher:error; B gets nothing.
//  - rate limit: A sends 30 client events at once; A gets pusher:error 4301 and B receives at
//    most 11 (default limit 10 per second).
// Usage: node client_events.js        Prints: progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  const server = c.sdk();
  const id = c.rand();
  const priv = `private-chat-${id}`;
  const pres = `presence-chat-${id}`;
  const pub = `public-chat-${id}`;
  const conns = await c.pool(server, 8, 'events');
  const [a, b] = c.takeSpread(conns, 2, ['client A', 'client B']);
  a.presenceUser = { user_id: 'user-a', user_info: {} };
  b.presenceUser = { user_id: 'user-b', user_info: {} };
  c.say(`A on shard ${c.shardOf(a)}, B on shard ${c.shardOf(b)}`);
  const bRaw = c.recordMessages(b);

  const [privA, privB] = [await c.subscribe(a, priv), await c.subscribe(b, priv)];
  const [pubA, pubB] = [await c.subscribe(a, pub), await c.subscribe(b, pub)];
  c.say('subscribed');

  // Private channel: B gets it, A does not get its own.
  let aOwn = 0;
  privA.bind('client-typing', () => aOwn++);
  const typing = c.once(privB, 'client-typing');
  c.step(`A triggers client-typing on ${priv}; waiting at B`);
  if (!privA.trigger('client-typing', { who: 'a' })) throw new Error('pusher-js did not send client-typing');
  const got = await c.within(5000, typing, `B got no client-typing on ${priv}`);
  c.assertEqual(got.data, { who: 'a' }, 'client-typing data at B');
  const wire = bRaw.find((m) => m.channel === priv && m.event === 'client-typing');
  if (wire.user_id !== undefined) throw new Error(`client event on a private channel carries user_id ${wire.user_id}`);
  if (got.metadata && got.metadata.user_id !== undefined) throw new Error('metadata.user_id set on a private channel');
  // B answers; once A has B's answer, A would already have had an echo of its own event.
  const ack = c.once(privA, 'client-ack');
  c.step('B answers client-ack; waiting at A');
  privB.trigger('client-ack', {});
  await ack;
  if (aOwn) throw new Error('A received its own client event');
  c.say('private client event ok');

  // Presence channel: the receiver learns the sender's user id.
  const [presA, presB] = [await c.subscribe(a, pres), await c.subscribe(b, pres)];
  const pTyping = c.once(presB, 'client-typing');
  c.step(`A triggers client-typing on ${pres}; waiting at B`);
  presA.trigger('client-typing', { who: 'a' });
  const pGot = await c.within(5000, pTyping, `B got no client-typing on ${pres}`);
  c.assertEqual(pGot.data, { who: 'a' }, 'presence client-typing data at B');
  c.assertEqual(pGot.metadata, { user_id: 'user-a' }, 'presence client-typing metadata at B');
  c.say('presence client event ok (metadata.user_id)');

  // Public channel: refused with pusher:error to A; B never gets it.
  const aErrors = c.recordErrors(a);
  let bPublic = 0;
  pubB.bind('client-public', () => bPublic++);
  const nErr = aErrors.length;
  c.step(`A triggers client-public on ${pub}; waiting for pusher:error at A`);
  pubA.trigger('client-public', {});
  await c.within(5000, () => aErrors.length > nErr, `no pusher:error at A for a client event on ${pub}`);
  c.say(`public refused ${c.describe(aErrors[nErr])}`);
  if (c.errorCode(aErrors[nErr]) === undefined) throw new Error('pusher:error without a code');
  const ack2 = c.once(privB, 'client-after-public');
  privA.trigger('client-after-public', {});
  await ack2;
  if (bPublic) throw new Error('B received a client event sent on a public channel');
  c.say('public client event refused');

  // Rate limit: 30 at once; pusher:error 4301 at A, at most ~10 (11 across a window edge) at B.
  await c.sleep(1100); // a fresh one-second window
  let burst = 0;
  privB.bind('client-burst', () => burst++);
  const nErr2 = aErrors.length;
  c.step('A sends 30 client-burst events at once');
  for (let i = 0; i < 30; i++) privA.trigger('client-burst', { i });
  c.step('waiting for pusher:error 4301 at A');
  await c.within(5000, () => aErrors.slice(nErr2).some((e) => c.errorCode(e) === 4301),
    () => `no pusher:error 4301 at A after 30 client events at once; errors: ${c.describe(aErrors.slice(nErr2))}`);
  c.say(`rate limited ${c.describe(aErrors.slice(nErr2).find((e) => c.errorCode(e) === 4301))}`);
  await c.sleep(1500); // the limit refills; the end marker must pass
  const end = c.once(privB, 'client-end');
  c.step('A sends client-end after the window; waiting at B');
  privA.trigger('client-end', {});
  await end;
  if (burst < 1 || burst > 11) throw new Error(`B received ${burst} of 30 burst events; expected 1..11 (limit 10/s)`);
  if (a.connection.state !== 'connected') throw new Error(`A is ${a.connection.state} after being rate limited`);
  c.say(`burst: B received ${burst} of 30`);
  return 'ok';
});
