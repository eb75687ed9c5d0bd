'use strict';
// Verifies webhook deliveries signed by ringcast with real Node verifiers: the `pusher` SDK's
// `pusher.webhook({headers, rawBody}).isValid()` for Pusher-format cases and the
// `standardwebhooks` package's `Webhook.verify` for Standard Webhooks cases.
//
// Input on stdin: {"app_id", "app_key", "app_secret", "cases": [{"kind": "pusher"|"standard",
// "secret": "whsec_..." (standard), "headers": {...}, "body": "..."}]}.
// Prints `<index> <verifier> valid|invalid` per case, then `ok`. Needs no server.
// On a broken input: `FAIL verify_webhooks.js: <reason>` on stderr, exit 1.

const Pusher = require('pusher');
const { Webhook } = require('standardwebhooks');

function fail(reason) {
  process.stderr.write(`FAIL verify_webhooks.js: ${reason}\n`);
  process.exit(1);
}

function verifyStandard(c, headers) {
  try {
    new Webhook(c.secret).verify(c.body, headers);
    return true;
  } catch (e) {
    return false; // WebhookVerificationError: bad signature, stale timestamp, missing header
  }
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
    // HTTP servers hand header names to the verifiers lower-cased; both read them that way.
    const headers = {};
    for (const [k, v] of Object.entries(c.headers)) headers[k.toLowerCase()] = v;
    const [name, valid] = c.kind === 'standard'
      ? ['standardwebhooks', verifyStandard(c, headers)]
      : ['pusher', pusher.webhook({ headers, rawBody: c.body }).isValid()];
    console.log(`${i} ${name} ${valid ? 'valid' : 'invalid'}`);
  });
  console.log('ok');
});
