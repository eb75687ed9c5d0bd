'use strict';
// pusher-js presence across ringcast nodes joined through Redis: w on the third node, u1 with
// one tab on the first node and one on the second. Checks what the clients see: members and
// subscription_succeeded list every node's members, member_added u1 reaches w once (the second
// tab is not announced), closing one tab sends nothing, closing the last sends member_removed
// once. Raw protocol messages are counted, since pusher-js would hide a duplicate.
// Usage: node presence_nodes.js <port,port,port>    Prints progress lines, then `ok`.
const c = require('./common');

const info = (id) => ({ name: `User ${id}` });

c.main(async () => {
  const ports = (process.argv[2] || '').split(',').map(Number);
  if (ports.length !== 3) throw new Error('usage: presence_nodes.js <port,port,port>');
  const server = c.sdk();
  const name = `presence-nodes-${c.rand()}`;
  const on = (port, label, user) =>
    c.connectAs(server, label, { wsPort: port, wssPort: port }).then((cl) => {
      cl.presenceUser = { user_id: user, user_info: info(user) };
      cl.raw = c.recordMessages(cl);
      return cl;
    });
  const raw = (cl, event) => cl.raw.filter((m) => m.channel === name && m.event === event);
  const ids = (ch) => {
    const got = [];
    ch.members.each((m) => got.push(m.id));
    return got.sort();
  };

  const w = await on(ports[2], 'w@node2', 'w');
  const wch = await c.subscribe(w, name);
  const added = c.once(wch, 'pusher:member_added');
  const u1a = await on(ports[0], 'u1 tab 1@node0', 'u1');
  const ach = await c.subscribe(u1a, name);
  c.assertEqual(ids(ach), ['u1', 'w'], 'members at u1 tab 1 (w is on another node)');
  c.assertEqual((await c.within(5000, added, 'no member_added u1 at w')).data, { id: 'u1', info: info('u1') }, 'member_added at w');

  const u1b = await on(ports[1], 'u1 tab 2@node1', 'u1');
  const bch = await c.subscribe(u1b, name);
  c.assertEqual(ids(bch), ['u1', 'w'], 'members at u1 tab 2');
  c.say('u1 on two nodes');

  c.hangUp(u1a);
  await c.sleep(500); // let a (wrong) member_removed travel
  const marker = c.once(wch, 'marker');
  await server.trigger(name, 'marker', {});
  await c.within(5000, marker, 'no marker at w');
  c.assertEqual(raw(w, 'pusher_internal:member_added').length, 1, 'member_added messages at w');
  c.assertEqual(raw(w, 'pusher_internal:member_removed').length, 0, 'member_removed after one tab left');
  c.assertEqual(ids(wch), ['u1', 'w'], 'members at w after one tab left');
  c.say('one tab left: nothing sent');

  const removed = c.once(wch, 'pusher:member_removed');
  c.hangUp(u1b);
  c.assertEqual((await c.within(5000, removed, 'no member_removed u1 at w')).data.id, 'u1', 'member_removed at w');
  await c.sleep(300);
  c.assertEqual(raw(w, 'pusher_internal:member_removed').length, 1, 'member_removed messages at w');
  c.assertEqual(ids(wch), ['w'], 'members at w at the end');
  return 'ok';
});
