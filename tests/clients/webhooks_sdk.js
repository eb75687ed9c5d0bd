'use strict';
// Calls the managed-webhooks API through the Node SDK's generic, signed `get`/`post`
// (paths are relative to /apps/{id}).
// Usage: node webhooks_sdk.js get <path> [query-json] | node webhooks_sdk.js post <path> <body-json>
// Prints: `ok {"status": <code>, "body": <answer, parsed when JSON>}`, for refusals too.
const c = require('./common');

const [method, path, json] = process.argv.slice(2);
if (!['get', 'post'].includes(method) || !path) {
  c.fail('usage: webhooks_sdk.js get|post <path> [json]');
}

function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

c.main(async () => {
  c.step(`${method} ${path}`);
  const arg = json ? JSON.parse(json) : undefined;
  const options = method === 'post' ? { path, body: arg } : { path, params: arg };
  try {
    const res = await c.sdk()[method](options);
    return `ok ${JSON.stringify({ status: res.status, body: parsed(await res.text()) })}`;
  } catch (e) {
    if (e.status === undefined) throw e;
    return `ok ${JSON.stringify({ status: e.status, body: parsed(e.body) })}`;
  }
});
