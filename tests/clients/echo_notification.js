'use strict';
// laravel-echo (reverb broadcaster over pusher-js): `.notification()` on the private user
// channel `App.Models.User.<id>`, as a Laravel app listens for broadcast notifications.
// Usage: node echo_notification.js <user_id>
// Prints: `ready` once subscribed, then `ok <JSON of the notification Echo handed over>`.
const c = require('./common');

const [userId] = process.argv.slice(2);
if (!userId) c.fail('usage: echo_notification.js <user_id>');

c.main(async () => {
  // laravel-echo 2.x: load the ESM build (its CommonJS build does not load in Node).
  const { default: Echo } = await import('laravel-echo');
  const server = c.sdk();
  const echo = new Echo({
    broadcaster: 'reverb',
    Pusher: c.PusherJS,
    key: c.env.key,
    wsHost: c.env.host,
    wsPort: c.env.port,
    wssPort: c.env.port,
    forceTLS: c.env.tls,
    enabledTransports: ['ws'],
    enableStats: false,
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
  c.step(`subscribing to private-App.Models.User.${userId} through Echo`);
  const channel = echo.private(`App.Models.User.${userId}`);
  const got = new Promise((resolve) => channel.notification(resolve));
  await new Promise((resolve, reject) => {
    channel.subscribed(resolve);
    channel.error((e) => reject(new Error(`Echo subscription failed: ${c.describe(e)}`)));
  });
  c.say('ready');
  c.step('waiting for the notification');
  return `ok ${JSON.stringify(await got)}`;
});
