'use strict';
// User authentication (pusher:signin) and the user APIs, across shards. Two tabs of user-7
// (different shards) and one of user-8 sign in with userAuthentication.customHandler signing
// through the Node SDK's authenticateUser; each must get pusher:signin_success with its
// user_data and be subscribed to #server-to-user-<id>. sendToUser('user-7') reaches both tabs
// of user-7 only. terminateUserConnections('user-7') closes both tabs of user-7; user-8 stays
// connected and still receives sendToUser.
// Usage: node signin.js        Prints: progress lines, `terminated ...`, then `ok`.
const c = require('./common');

c.main(async () => {
  const server = c.sdk();
  const conns = await c.pool(server, 10, 'signin');
  const [t1, t2, other] = c.takeSpread(conns, 3, ['user-7 tab 1', 'user-7 tab 2', 'user-8']);
  t1.signinUser = { id: 'user-7', user_info: { name: 'Seven' } };
  t2.signinUser = { id: 'user-7', user_info: { name: 'Seven' } };
  other.signinUser = { id: 'user-8', user_info: { name: 'Eight' } };
  c.say(`placement ${JSON.stringify([t1, t2, other].map((cl) => `${cl.label}@shard${c.shardOf(cl)}`))}`);

  const raw = new Map([t1, t2, other].map((cl) => [cl, c.recordMessages(cl)]));
  for (const cl of [t1, t2, other]) {
    c.step(`${cl.label}: pusher.signin(); waiting for pusher:signin_success`);
    cl.signin();
    await c.within(5000, () => raw.get(cl).some((m) => m.event === 'pusher:signin_success'),
      `${cl.label}: no pusher:signin_success`);
    const msg = raw.get(cl).find((m) => m.event === 'pusher:signin_success');
    await cl.user.signinDonePromise;
    c.assertEqual(JSON.parse(msg.data.user_data), cl.signinUser, `${cl.label}: user_data in signin_success`);
    c.assertEqual(cl.user.user_data && cl.user.user_data.id, cl.signinUser.id, `${cl.label}: pusher.user.user_data.id`);
    c.step(`${cl.label}: waiting for #server-to-user-${cl.signinUser.id} subscription`);
    const errs = [];
    const s2u = cl.user.serverToUserChannel;
    s2u.bind('pusher:subscription_error', (e) => errs.push(e));
    await c.within(5000, () => s2u.subscribed || errs.length, `${cl.label}: ${s2u.name} not subscribed`);
    if (errs.length) throw new Error(`${cl.label}: ${s2u.name} refused: ${c.describe(errs[0])}`);
  }
  c.say('signed in');

  // sendToUser: both tabs of user-7; user-8 only gets its own marker.
  let otherGotHello = 0;
  other.user.bind('hello', () => otherGotHello++);
  const hellos = [t1, t2].map((cl) => c.once(cl.user, 'hello'));
  c.step("sendToUser('user-7', 'hello'); waiting at both tabs");
  await server.sendToUser('user-7', 'hello', { n: 7 });
  for (const h of await c.within(5000, Promise.all(hellos), 'sendToUser hello did not reach both tabs of user-7')) c.assertEqual(h.data, { n: 7 }, 'hello at user-7');
  const mark = c.once(other.user, 'marker');
  await server.sendToUser('user-8', 'marker', {});
  await mark;
  if (otherGotHello) throw new Error('user-8 received an event sent to user-7');
  c.say('sendToUser ok');

  // terminateUserConnections: the server closes both tabs of user-7.
  const seen = new Map();
  for (const cl of [t1, t2]) {
    cl.ringcastClosing = true; // a close is now expected
    c.recordErrors(cl);
    seen.set(cl, []);
    cl.connection.bind('state_change', ({ current }) => seen.get(cl).push(current));
  }
  c.step("terminateUserConnections('user-7'); waiting for both tabs to be closed by the server");
  await server.terminateUserConnections('user-7');
  await c.within(5000, () => [t1, t2].every((cl) => seen.get(cl).length > 0),
    () => `user-7 tabs not closed by the server: states ${c.describe([t1, t2].map((cl) => cl.connection.state))}`);
  const report = [t1, t2].map((cl) => ({
    tab: cl.label,
    states: seen.get(cl),
    codes: cl.errors.map(c.errorCode).filter((x) => x !== undefined),
  }));
  c.say(`terminated ${JSON.stringify(report)}`);
  // user-8 is untouched.
  await c.sleep(300);
  if (other.connection.state !== 'connected') throw new Error(`user-8 went ${other.connection.state}`);
  const after = c.once(other.user, 'after');
  c.step("sendToUser('user-8', 'after') once user-7 was terminated");
  await server.sendToUser('user-8', 'after', {});
  await after;
  c.say('other user still connected');
  return 'ok';
});
