'use strict';
// Presence limits, with the server started with REVERB_APP_MAX_PRESENCE_MEMBERS=2: u1 and u2 join
// presence-full-<rand> (on different shards); u3 must get pusher:subscription_error on that
// channel (not a connection error), and u1/u2 see no member_added for it. Then a user whose
// user_info is over 1 KB must get pusher:subscription_error on presence-big-<rand>, while a
// 500-byte user_info on the same channel is accepted.
// Usage: node presence_limit.js        Prints: progress lines, then `ok`.
const c = require('./common');

function subscribeOutcome(cl, name) {
  c.step(`${cl.label} subscribing to ${name}`);
  const ch = cl.subscribe(name);
  return new Promise((resolve) => {
    ch.bind('pusher:subscription_succeeded', () => resolve({ ok: true, ch }));
    ch.bind('pusher:subscription_error', (e) => resolve({ ok: false, error: e, ch }));
  });
}

c.main(async () => {
  const server = c.sdk();
  const full = `presence-full-${c.rand()}`;
  const big = `presence-big-${c.rand()}`;
  const conns = await c.pool(server, 8, 'limit');
  const [u1, u2, u3, u4, u5] = c.takeSpread(conns, 5, ['u1', 'u2', 'u3', 'u4', 'u5']);
  u1.presenceUser = { user_id: 'u1', user_info: { name: 'One' } };
  u2.presenceUser = { user_id: 'u2', user_info: { name: 'Two' } };
  u3.presenceUser = { user_id: 'u3', user_info: { name: 'Three' } };
  u4.presenceUser = { user_id: 'u4', user_info: { name: 'x'.repeat(1100) } };
  u5.presenceUser = { user_id: 'u5', user_info: { name: 'y'.repeat(500) } };

  for (const cl of [u1, u2]) {
    const r = await subscribeOutcome(cl, full);
    if (!r.ok) throw new Error(`${cl.label}: refused below the member limit: ${c.describe(r.error)}`);
  }
  const added = [];
  const ch1 = u1.channel(full);
  // Only u3 matters here: u2's own member_added may still be on its way to u1's core.
  ch1.bind('pusher:member_added', (m) => {
    if (m.id === 'u3') added.push(m.id);
  });
  c.say('two members joined');

  const r3 = await subscribeOutcome(u3, full);
  if (r3.ok) throw new Error(`u3 joined ${full} beyond REVERB_APP_MAX_PRESENCE_MEMBERS=2`);
  c.say(`limit subscription_error ${c.describe(r3.error)}`);
  // A marker through the same channel: u1 must have seen no member_added for u3 by then.
  const marker = c.once(ch1, 'marker');
  await server.trigger(full, 'marker', {});
  await marker;
  c.assertEqual(added, [], 'member_added at u1 after u3 was refused');
  c.assertEqual(ch1.members.count, 2, 'members.count at u1 after u3 was refused');
  c.say('member limit ok');

  const r4 = await subscribeOutcome(u4, big);
  if (r4.ok) throw new Error(`u4 joined ${big} with a 1100-byte user_info (over 1 KB)`);
  c.say(`user_info subscription_error ${c.describe(r4.error)}`);
  const r5 = await subscribeOutcome(u5, big);
  if (!r5.ok) throw new Error(`u5 (500-byte user_info) was refused: ${c.describe(r5.error)}`);
  c.say('user_info limit ok');
  return 'ok';
});
