'use strict';
// laravel-echo with `broadcaster: 'reverb'` (over pusher-js) against ringcast: a private
// channel authorised through Echo's `authorizer` option, then a server-triggered event.
// Usage: node echo_reverb.js        Prints: progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  // laravel-echo 2.x ships "type": "module" with a CommonJS `require` build (echo.common.js)
  // that Node refuses to load ("exports is not defined in ES module scope"): import the ESM build.
  const { default: Echo } = await import('laravel-echo');
  const server = c.sdk();
  const echo = new Echo({
    broadcaster: 'reverb',
    Pusher: c.PusherJS, // Echo 2.x takes the client class here; no `window.Pusher` needed in Node
    key: c.env.key,
    wsHost: c.env.host,
    wsPort: c.env.port,
    wssPort: c.env.port,
    forceTLS: c.env.tls,
    enabledTransports: ['ws'],
    enableStats: false,
    // pusher-js 8 callback signature: (error | null, authData)
    authorizer: (channel) => ({
      authorize: (socketId, callback) => {
        try {
          callback(null, server.authorizeChannel(socketId, channel.name));
        } catch (e) {
          callback(e, null);
        }
      },
    }),
  });
  c.watchConnection(echo.connector.pusher, 'echo');

  c.step('subscribing to private-tenant.1 through Echo');
  const channel = echo.private('tenant.1');
  const got = new Promise((resolve) => channel.listen('.order.paid', resolve));
  await new Promise((resolve, reject) => {
    channel.subscribed(resolve);
    channel.error((e) => reject(new Error(`Echo subscription failed: ${c.describe(e)}`)));
  });
  c.say(`subscribed ${echo.socketId()}`);

  c.step('triggering order.paid on private-tenant.1');
  await server.trigger('private-tenant.1', 'order.paid', { order_id: 42 });
  c.step('waiting for .order.paid in the Echo listener');
  c.assertEqual(await got, { order_id: 42 }, 'order.paid payload');
  return 'ok'; // common.main disconnects the watched client
});
