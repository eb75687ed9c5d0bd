#!/usr/bin/env python3
"""Server memory per idle connection, plain and TLS: opens N WebSocket connections to a running
ringcast (each completes the upgrade and reads pusher:connection_established), then reports the
server's RSS growth per connection from /proc/PID/status.

    python3 bench/tls/memory.py --pid PID --port PORT [--tls --ca ca.pem] [-n 1000]
"""
import argparse, base64, os, socket, ssl, time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connect(port, ctx, key):
    s = socket.create_connection(("127.0.0.1", port))
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    nonce = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /app/{key}?protocol=7 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    while b"connection_established" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed before connection_established")
        got += chunk
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", default="ringcast-dev-key")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("-n", type=int, default=1000)
    a = ap.parse_args()
    ctx = None
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.ca)
    before = rss_kb(a.pid)
    conns = [connect(a.port, ctx, a.key) for _ in range(a.n)]
    time.sleep(1)
    after = rss_kb(a.pid)
    print(f"{'tls' if a.tls else 'plain'}: {a.n} idle connections, server RSS +{after - before} KB, "
          f"{(after - before) * 1024 / a.n:.0f} B per connection")
    for c in conns:
        c.close()


if __name__ == "__main__":
    main()
