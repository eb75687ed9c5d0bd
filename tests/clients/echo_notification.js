'use strict';
// laravel-echo (reverb broadcaster over pusher-js): `.notification()` on the private user
// channel `App.Models.User.<id>`, as a Laravel app listens for broadcast notifications.
// Usage: node echo_notification.js <user_id>
// Prints: `ready` once subscribed, then `ok <JSON of the notification Echo handed over>`.
const c = require('./common');

const [userId] = process.argv.slice(2);
if (!userId) c.fail('usage: echo_notification.js <user_id>');

c.main(async () => {
  const echo = await c.echo(c.sdk());
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
