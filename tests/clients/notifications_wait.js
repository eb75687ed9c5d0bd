'use strict';
// Subscribe with pusher-js to a notification channel and count what arrives, by id.
// Usage: node notifications_wait.js <channel> <event> <count> <linger_ms>
// Prints: `ready` once subscribed, then, `linger_ms` after the `count`-th event (so that a
// repeat would be seen too), the received data.id in arrival order as lines
// `ids <JSON array of up to 1,000>`, then `ok <how many>`. Chunked and flushed before the exit:
// one 300 kB line for 10,000 ids would be cut off when the process exits.
const c = require('./common');

const [channelName, event, countArg, lingerArg] = process.argv.slice(2);
const count = Number(countArg);
const linger = Number(lingerArg);
if (!channelName || !event || !Number.isInteger(count) || count < 1 || !Number.isInteger(linger)) {
  c.fail('usage: notifications_wait.js <channel> <event> <count> <linger_ms>');
}

c.main(async () => {
  const client = await c.connect(c.sdk());
  const channel = await c.subscribe(client, channelName);
  const ids = [];
  const enough = new Promise((resolve) => {
    channel.bind(event, (data) => {
      ids.push(data && data.id);
      if (ids.length === count) resolve();
    });
  });
  c.step(`waiting for ${count} x ${event} on ${channelName}`);
  c.say('ready');
  await enough;
  await new Promise((resolve) => setTimeout(resolve, linger));
  for (let i = 0; i < ids.length; i += 1000) {
    const line = `ids ${JSON.stringify(ids.slice(i, i + 1000))}\n`;
    await new Promise((resolve) => process.stdout.write(line, resolve));
  }
  return `ok ${ids.length}`;
});
