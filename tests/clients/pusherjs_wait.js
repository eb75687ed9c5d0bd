'use strict';
// Subscribe with pusher-js and wait for events triggered by someone else (e.g. python_trigger.py).
// Usage: node pusherjs_wait.js <channel> <event> <count>
// Prints: `ready` once subscribed, then `ok <JSON array of the received data>`.
const c = require('./common');

const [channelName, event, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!channelName || !event || !Number.isInteger(count) || count < 1) {
  c.fail('usage: pusherjs_wait.js <channel> <event> <count>');
}

c.main(async () => {
  const client = await c.connect(c.sdk());
  const channel = await c.subscribe(client, channelName);
  const got = c.collect(channel, event, count);
  c.step(`waiting for ${count} x ${event} on ${channelName}`);
  c.say('ready');
  return `ok ${JSON.stringify(await got)}`;
});
