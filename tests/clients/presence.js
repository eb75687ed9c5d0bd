'use strict';
// pusher-js presence channel across shards: users u1 (two tabs), u2, u3 join presence-room-<rand>
// with user_info {name}. Checks members.count / me / each, the members in
// pusher:subscription_succeeded, pusher:member_added exactly once per new user (not for u1's
// second tab), and pusher:member_removed only when a user's LAST connection leaves.
// Usage: node presence.js        Env: RINGCAST_WORKERS (shards; connections are spread over them)
// Prints: `pool ...`, progress lines, then `ok`.
const c = require('./common');

const info = (id) => ({ name: `User ${id.slice(1)}` });

function membersOf(channel) {
  const got = [];
  channel.members.each((m) => got.push([m.id, m.info]));
  return got.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

c.main(async () => {
  const server = c.sdk();
  const name = `presence-room-${c.rand()}`;
  const conns = await c.pool(server, 10, 'presence');
  const [u1a, u1b, u2, u3] = c.takeSpread(conns, 4, ['u1 tab 1', 'u1 tab 2', 'u2', 'u3']);
  const userOf = new Map([[u1a, 'u1'], [u1b, 'u1'], [u2, 'u2'], [u3, 'u3']]);
  for (const [cl, id] of userOf) cl.presenceUser = { user_id: id, user_info: info(id) };
  c.say(`placement ${JSON.stringify([u1a, u1b, u2, u3].map((cl) => `${cl.label}@shard${c.shardOf(cl)}`))}`);

  // Raw protocol messages per client, to count member events before pusher-js dedupes them.
  const raw = new Map([u1a, u1b, u2, u3].map((cl) => [cl, c.recordMessages(cl)]));
  const rawOf = (cl, event) => raw.get(cl).filter((m) => m.channel === name && m.event === event);
  const added = new Map();
  const removed = new Map();
  const channels = new Map();
  async function join(cl) {
    c.step(`${cl.label} joining ${name}`);
    const ch = cl.subscribe(name);
    added.set(cl, []);
    removed.set(cl, []);
    ch.bind('pusher:member_added', (m) => added.get(cl).push(m.id));
    ch.bind('pusher:member_removed', (m) => removed.get(cl).push(m.id));
    const members = await new Promise((resolve, reject) => {
      ch.bind('pusher:subscription_succeeded', resolve);
      ch.bind('pusher:subscription_error', (e) =>
        reject(new Error(`${cl.label}: subscription to ${name} failed: ${c.describe(e)}`)),
      );
    });
    channels.set(cl, ch);
    return { ch, members };
  }
  function expectMembers(cl, ids, what) {
    const ch = channels.get(cl);
    c.assertEqual(ch.members.count, ids.length, `${cl.label}: members.count ${what}`);
    c.assertEqual(membersOf(ch), ids.map((id) => [id, info(id)]), `${cl.label}: members.each ${what}`);
  }
  function expectMe(cl) {
    const id = userOf.get(cl);
    c.assertEqual(channels.get(cl).members.me, { id, info: info(id) }, `${cl.label}: members.me`);
  }
  function succeededPayload(cl) {
    const [m] = rawOf(cl, 'pusher_internal:subscription_succeeded');
    if (!m || !m.data || !m.data.presence) {
      throw new Error(`${cl.label}: subscription_succeeded has no presence data: ${c.describe(m)}`);
    }
    return m.data.presence;
  }

  // 1. u1 (first tab) alone.
  const first = await join(u1a);
  if (first.members !== first.ch.members) throw new Error('subscription_succeeded did not pass channel.members');
  expectMembers(u1a, ['u1'], 'after u1 joined');
  expectMe(u1a);
  c.say('u1 joined');

  // 2. u2 joins: u1 sees member_added u2; u2 sees both.
  const gotU2 = c.once(first.ch, 'pusher:member_added');
  await join(u2);
  expectMembers(u2, ['u1', 'u2'], 'at u2 after it joined');
  expectMe(u2);
  c.assertEqual(succeededPayload(u2).count, 2, 'presence.count in subscription_succeeded at u2');
  c.step('u1 waiting for member_added u2');
  c.assertEqual((await c.within(5000, gotU2, 'no member_added for u2 at u1')).data, { id: 'u2', info: info('u2') }, 'member_added at u1 tab 1');
  c.say('u2 joined');

  // 3. u1's second tab (other shard): still two members, no member_added anywhere.
  await join(u1b);
  expectMembers(u1b, ['u1', 'u2'], 'at u1 tab 2 after it joined');
  expectMe(u1b);
  const p = succeededPayload(u1b);
  c.assertEqual(p.count, 2, 'presence.count in subscription_succeeded at u1 tab 2 (u1 counted once)');
  c.assertEqual([...p.ids].sort(), ['u1', 'u2'], 'presence.ids in subscription_succeeded at u1 tab 2');
  c.say('u1 second tab joined');

  // 4. u3 joins: member_added u3 once at each of the others; the second tab of u1 never showed.
  const waits = [u1a, u1b, u2].map((cl) => c.once(channels.get(cl), 'pusher:member_added').then(() => cl));
  await join(u3);
  expectMembers(u3, ['u1', 'u2', 'u3'], 'at u3 after it joined');
  expectMe(u3);
  c.step('waiting for member_added u3 at u1 (both tabs) and u2');
  await c.within(5000, Promise.all(waits), () => `member_added u3 missing; added: ${c.describe([...added.values()])}`);
  c.assertEqual(added.get(u1a), ['u2', 'u3'], 'member_added seen by u1 tab 1');
  c.assertEqual(added.get(u1b), ['u3'], 'member_added seen by u1 tab 2');
  c.assertEqual(added.get(u2), ['u3'], 'member_added seen by u2 (u1 tab 2 must not be announced)');
  for (const cl of [u1a, u1b, u2]) {
    c.assertEqual(rawOf(cl, 'pusher_internal:member_added').length, added.get(cl).length,
      `${cl.label}: pusher_internal:member_added messages`);
    expectMembers(cl, ['u1', 'u2', 'u3'], 'after u3 joined');
  }
  c.say('member_added ok');

  // 5. u1 closes its first tab: u1 is still present (tab 2), nobody gets member_removed.
  const health = async () => {
    const r = await fetch(`http://${c.env.host}:${c.env.port}/api/v1/websocket/health`);
    return (await r.json()).connections;
  };
  const before = await health();
  c.step('closing u1 tab 1; waiting for the server to count it gone');
  c.hangUp(u1a);
  for (;;) {
    if ((await health()) < before) break;
    await c.sleep(20);
  }
  await c.sleep(300); // let a (wrong) member_removed travel through the presence owner
  c.step('marker event after u1 tab 1 left');
  const markers = [u1b, u2, u3].map((cl) => c.once(channels.get(cl), 'marker'));
  await server.trigger(name, 'marker', {});
  await Promise.all(markers);
  for (const cl of [u1b, u2, u3]) {
    c.assertEqual(rawOf(cl, 'pusher_internal:member_removed').map((m) => m.data), [],
      `${cl.label}: member_removed after u1 closed only one of its two connections`);
    expectMembers(cl, ['u1', 'u2', 'u3'], 'after u1 tab 1 left');
  }
  c.say('first tab left: no member_removed');

  // 6. u1 closes its last tab: member_removed u1, once, at u2 and u3.
  const gone = [u2, u3].map((cl) => c.once(channels.get(cl), 'pusher:member_removed'));
  c.step('closing u1 tab 2; waiting for member_removed u1 at u2 and u3');
  c.hangUp(u1b);
  for (const r of await c.within(5000, Promise.all(gone), 'no member_removed u1 at u2 and u3 after its last tab left')) c.assertEqual(r.data, { id: 'u1', info: info('u1') }, 'member_removed');
  await c.sleep(300);
  const markers2 = [u2, u3].map((cl) => c.once(channels.get(cl), 'marker'));
  await server.trigger(name, 'marker', {});
  await Promise.all(markers2);
  for (const cl of [u2, u3]) {
    c.assertEqual(rawOf(cl, 'pusher_internal:member_removed').map((m) => m.data), [{ user_id: 'u1' }],
      `${cl.label}: pusher_internal:member_removed messages (exactly one, for u1)`);
    expectMembers(cl, ['u2', 'u3'], 'after u1 left');
  }
  c.say('last tab left: member_removed once');
  return 'ok';
});
