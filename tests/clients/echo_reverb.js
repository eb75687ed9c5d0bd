'use strict';
// laravel-echo with `broadcaster: 'reverb'` (over pusher-js) against ringcast: a private
// channel authorised through Echo's `authorizer` option, then a server-triggered event.
// Usage: node echo_reverb.js        Prints: progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  const server = c.sdk();
  const echo = await c.echo(server);

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
