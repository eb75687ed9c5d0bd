#!/usr/bin/env python3
"""A stand-in for a Laravel app's Sanctum introspection route, for tests/conn_auth.rs.

    sanctum_stub.py PORT        (PORT 0 picks a free port)

Prints "listening <port>" once bound. GET /api/user with Accept: application/json and
  Authorization: Bearer 1|good    -> 200 {"id": 7}
  Authorization: Bearer 2|nested  -> 200 {"user": {"id": "nested-user"}}
  Authorization: Bearer 3|slow    -> sleeps 3 s, then 200 (longer than ringcast's 2 s timeout)
  Authorization: Bearer 4|broken  -> 500
  anything else                   -> 401
GET /count answers the number of /api/user requests so far (text). Standard library only.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

count = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        global count
        if self.path == "/count":
            with lock:
                return self.reply(200, str(count))
        if self.path != "/api/user":
            return self.reply(404, {"message": "not found"})
        with lock:
            count += 1
        if self.headers.get("Accept") != "application/json":
            return self.reply(400, {"message": "Accept: application/json expected"})
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token == "1|good":
            return self.reply(200, {"id": 7, "name": "Seven"})
        if token == "2|nested":
            return self.reply(200, {"user": {"id": "nested-user"}})
        if token == "3|slow":
            time.sleep(3)
            return self.reply(200, {"id": 3})
        if token == "4|broken":
            return self.reply(500, {"message": "Server Error"})
        return self.reply(401, {"message": "Unauthenticated."})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
