"""Verifies webhook deliveries signed by ringcast with the real Python verifiers: the `pusher`
SDK's `validate_webhook`, `standardwebhooks.Webhook.verify` and `svix.webhooks.Webhook.verify`.

Input on stdin: {"app_id", "app_key", "app_secret", "cases": [{"kind": "pusher"|"standard",
"secret": "whsec_..." (standard), "headers": {...}, "body": "..."}]}.
Prints one line per case and verifier: `<index> <verifier> valid|invalid`, then `ok`.
Standard cases also get `x-webhook-signature`: the hex HMAC-SHA256 of the body with the
decoded secret, recomputed here with the standard library. Needs no server.
"""

import base64
import hashlib
import hmac
import json
import sys

from sdk_common import fail


def standard_verifiers(case):
    import standardwebhooks
    import svix.webhooks

    headers = {k.lower(): v for k, v in case["headers"].items()}
    body = case["body"]
    out = []
    for name, make in (("standardwebhooks", standardwebhooks.Webhook), ("svix", svix.webhooks.Webhook)):
        try:
            make(case["secret"]).verify(body, dict(headers))
            out.append((name, True))
        except Exception:  # each library raises its own verification error type
            out.append((name, False))
    key = base64.b64decode(case["secret"][len("whsec_"):])
    expected = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    out.append(("x-webhook-signature", hmac.compare_digest(expected, headers.get("x-webhook-signature", ""))))
    return out


def pusher_verifier(spec, case):
    import pusher

    client = pusher.Pusher(app_id=spec["app_id"], key=spec["app_key"], secret=spec["app_secret"])
    headers = {k.lower(): v for k, v in case["headers"].items()}
    try:
        result = client.validate_webhook(
            key=headers.get("x-pusher-key", ""),
            signature=headers.get("x-pusher-signature", ""),
            body=case["body"],
        )
    except Exception:  # a malformed signature raises inside the SDK
        result = None
    return [("pusher", result is not None)]


def main():
    try:
        spec = json.load(sys.stdin)
    except ValueError as e:
        fail(f"stdin is not JSON: {e}")
    for i, case in enumerate(spec["cases"]):
        if case["kind"] == "standard":
            results = standard_verifiers(case)
        else:
            results = pusher_verifier(spec, case)
        for name, valid in results:
            print(f"{i} {name} {'valid' if valid else 'invalid'}", flush=True)
    print("ok", flush=True)


if __name__ == "__main__":
    main()
