"""A local receiver of Pusher channel webhooks that checks every request with the real Python
`pusher` SDK's `validate_webhook` (X-Pusher-Key and X-Pusher-Signature against the app secret).

Usage: pusher_webhook_receiver.py <port> <path>=<events> ...
  Listens on 127.0.0.1:<port>. Once every <path> has received at least <events> events, it keeps
  listening for SETTLE_MS more (so a duplicate would still be seen), then exits.
Prints `listening <port>`, then `hook <JSON>` per request: {path, valid, events, time_ms, status},
then `ok`.
Env: APP_ID, APP_KEY, APP_SECRET (the app's credentials); STATUSES, comma-separated codes
answered to the first requests in turn (then 200), e.g. "500".
"""

import json
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from sdk_common import env, fail

SETTLE_MS = 700


def main():
    if len(sys.argv) < 3:
        fail("usage: pusher_webhook_receiver.py <port> <path>=<events> ...")
    port = int(sys.argv[1])
    wanted = {p: int(n) for p, n in (a.split("=", 1) for a in sys.argv[2:])}
    timeout_ms = int(env("CLIENT_TIMEOUT_MS", "25000"))
    signal.signal(signal.SIGALRM, lambda *_: fail(f"timed out after {timeout_ms} ms; wanted {wanted}"))
    signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)

    import pusher

    client = pusher.Pusher(app_id=env("APP_ID"), key=env("APP_KEY"), secret=env("APP_SECRET"))
    got = {p: 0 for p in wanted}
    answers = [int(s) for s in env("STATUSES", "").split(",") if s]
    answered = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                parsed = client.validate_webhook(
                    key=self.headers.get("X-Pusher-Key", ""),
                    signature=self.headers.get("X-Pusher-Signature", ""),
                    body=body.decode(),
                )
            except Exception:  # a malformed signature raises inside the SDK
                parsed = None
            parsed_body = json.loads(body)
            events = parsed_body.get("events", [])
            got[self.path] = got.get(self.path, 0) + len(events)
            status = answers[len(answered)] if len(answered) < len(answers) else 200
            answered.append(status)
            record = {"path": self.path, "valid": parsed is not None, "events": events,
                      "time_ms": parsed_body.get("time_ms"), "status": status}
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            print(f"hook {json.dumps(record)}", flush=True)

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    server.timeout = 0.05
    print(f"listening {port}", flush=True)
    settled_at = None
    while settled_at is None or time.monotonic() < settled_at:
        server.handle_request()
        if settled_at is None and all(got[p] >= n for p, n in wanted.items()):
            settled_at = time.monotonic() + SETTLE_MS / 1000
    print("ok", flush=True)


main()
