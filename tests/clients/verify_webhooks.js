'use strict';
// Verifies webhook deliveries signed by ringcast with the Node `pusher` SDK's own verifier,
// `pusher.webhook({headers, rawBody}).isValid()`.
//
// Input on stdin: {"app_id", "app_key", "app_secret", "cases": [{"headers": {...}, "body": "..."}]}
// (only Pusher-format cases). Prints `<index> valid` or `<index> invalid` per case, then `ok`.
// Needs no server. On a broken input: `FAIL verify_webhooks.js: <reason>` on stderr, exit 1.

const Pusher = require('pusher');

function fail(reason) {
  process.stderr.write(`FAIL verify_webhooks.js: ${reason}\n`);
  process.exit(1);
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  let spec;
  try {
    spec = JSON.parse(input);
  } catch (e) {
    fail(`stdin is not JSON: ${e.message}`);
  }
  const pusher = new Pusher({ appId: spec.app_id, key: spec.app_key, secret: spec.app_secret });
  spec.cases.forEach((c, i) => {
    // HTTP servers hand header names to the SDK lower-cased; the SDK reads them that way.
    const headers = {};
    for (const [k, v] of Object.entries(c.headers)) headers[k.toLowerCase()] = v;
    const valid = pusher.webhook({ headers, rawBody: c.body }).isValid();
    console.log(`${i} ${valid ? 'valid' : 'invalid'}`);
  });
  console.log('ok');
});
