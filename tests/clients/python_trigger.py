"""Trigger one event through the official Python server SDK (PyPI `pusher`).

Usage: python_trigger.py <channel> <event> <json-data>
Env:   RINGCAST_HOST (127.0.0.1), RINGCAST_PORT (required), APP_ID (424242, numeric),
       APP_KEY (test-key), APP_SECRET (test-secret), CLIENT_TIMEOUT_MS (20000)
Prints `ok` on success; on failure the reason on stderr and exit code 1.
"""

import json
import os
import signal
import sys

SCRIPT = os.path.basename(__file__)


def fail(reason):
    sys.stderr.write(f"FAIL {SCRIPT}: {reason}\n")
    sys.stderr.flush()
    os._exit(1)


def env(name, default=None):
    value = os.environ.get(name)
    if value:
        return value
    if default is None:
        fail(f"environment variable {name} is required")
    return default


def main(argv):
    if len(argv) != 3:
        fail("usage: python_trigger.py <channel> <event> <json-data>")
    channel, event, raw = argv
    try:
        data = json.loads(raw)
    except ValueError as e:
        fail(f"<json-data> is not JSON: {e}")

    timeout_ms = int(env("CLIENT_TIMEOUT_MS", "20000"))
    signal.signal(signal.SIGALRM, lambda *_: fail(f"timed out after {timeout_ms} ms"))
    signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)

    import pusher  # imported after the timer so even a stuck import is bounded

    client = pusher.Pusher(
        app_id=env("APP_ID", "424242"),
        key=env("APP_KEY", "test-key"),
        secret=env("APP_SECRET", "test-secret"),
        host=env("RINGCAST_HOST", "127.0.0.1"),
        port=int(env("RINGCAST_PORT")),
        ssl=False,
        timeout=max(1, timeout_ms // 1000),
    )
    try:
        result = client.trigger(channel, event, data)
    except Exception as e:  # the SDK raises its own errors and requests' errors
        fail(f"trigger {event} on {channel} failed: {type(e).__name__}: {e}")
    print(f"ok {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
