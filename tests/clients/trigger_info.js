'use strict';
// Trigger one event through the Node SDK asking for channel attributes in the answer
// (POST /events with `info`).
// Usage: node trigger_info.js <channel> <event> <info>   e.g. info = subscription_count,user_count
// Prints: `ok <JSON body of the answer>`.
const c = require('./common');

const [channel, event, info] = process.argv.slice(2);
if (!channel || !event || !info) c.fail('usage: trigger_info.js <channel> <event> <info>');

c.main(async () => {
  c.step(`trigger ${event} on ${channel} with info=${info}`);
  const res = await c.sdk().trigger(channel, event, {}, { info });
  const body = await res.text();
  try {
    return `ok ${JSON.stringify(JSON.parse(body))}`;
  } catch {
    throw new Error(`answer is not JSON: ${JSON.stringify(body)}`);
  }
});
