"""Trigger one event through the official Python server SDK (PyPI `pusher`).

Usage: python_trigger.py <channel> <event> <json-data>
Env:   RINGCAST_HOST (127.0.0.1), RINGCAST_PORT (required), APP_ID (424242, numeric),
       APP_KEY (test-key), APP_SECRET (test-secret), CLIENT_TIMEOUT_MS (20000)
Prints `ok` on success; on failure the reason on stderr and exit code 1.
"""

import json
import sys

from sdk_common import fail, sdk_client


def main(argv):
    if len(argv) != 3:
        fail("usage: python_trigger.py <channel> <event> <json-data>")
    channel, event, raw = argv
    try:
        data = json.loads(raw)
    except ValueError as e:
        fail(f"<json-data> is not JSON: {e}")

    client = sdk_client()
    try:
        result = client.trigger(channel, event, data)
    except Exception as e:  # the SDK raises its own errors and requests' errors
        fail(f"trigger {event} on {channel} failed: {type(e).__name__}: {e}")
    print(f"ok {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
