"""A local webhook receiver that checks every delivery with the real `standardwebhooks`
verifier (and `X-Webhook-Signature` by hand) and answers with a scripted status.

Usage: webhook_receiver.py <whsec_secret> <statuses> <count>
  statuses: comma-separated codes answered in turn (then 200), e.g. "500,200".
Prints `listening <port>`, then `delivery <JSON>` per request, then `ok <JSON list>` after
<count> requests. Each record: webhook_id, type, valid, x_signature_valid, status, data.
"""

import base64
import hashlib
import hmac
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from sdk_common import env, fail


def main():
    if len(sys.argv) != 4:
        fail("usage: webhook_receiver.py <secret> <statuses> <count>")
    secret, statuses, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    answers = [int(s) for s in statuses.split(",") if s]
    timeout_ms = int(env("CLIENT_TIMEOUT_MS", "25000"))
    signal.signal(signal.SIGALRM, lambda *_: fail(f"timed out after {timeout_ms} ms"))
    signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)

    import standardwebhooks

    key = base64.b64decode(secret[len("whsec_"):])
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                standardwebhooks.Webhook(secret).verify(body.decode(), dict(headers))
                valid = True
            except Exception:  # the library raises its own verification error types
                valid = False
            expected = hmac.new(key, body, hashlib.sha256).hexdigest()
            status = answers[len(seen)] if len(seen) < len(answers) else 200
            payload = json.loads(body)
            record = {
                "webhook_id": headers.get("webhook-id"),
                "type": payload.get("type"),
                "valid": valid,
                "x_signature_valid": hmac.compare_digest(expected, headers.get("x-webhook-signature", "")),
                "status": status,
                "data": payload.get("data"),
            }
            seen.append(record)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            print(f"delivery {json.dumps(record)}", flush=True)

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    while len(seen) < count:
        server.handle_request()
    print(f"ok {json.dumps(seen)}", flush=True)


main()
