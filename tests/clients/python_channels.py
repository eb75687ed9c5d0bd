"""Query channel state through the official Python server SDK (PyPI `pusher`).

Usage: python_channels.py <presence-channel>
Env:   as python_trigger.py.
Calls channels_info(prefix_filter='presence-', attributes=['user_count']),
channel_info(<presence-channel>, attributes=['user_count', 'subscription_count']),
users_info(<presence-channel>) and channels_info(), and prints
`ok {"presence": ..., "channel": ..., "users": ..., "all": ...}` (the SDK's answers);
on failure the reason on stderr and exit code 1.
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
    if len(argv) != 1:
        fail("usage: python_channels.py <presence-channel>")
    (channel,) = argv

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
    calls = [
        ("presence", "channels_info(prefix_filter='presence-', attributes=['user_count'])",
         lambda: client.channels_info(prefix_filter="presence-", attributes=["user_count"])),
        ("channel", f"channel_info({channel!r}, attributes=['user_count', 'subscription_count'])",
         lambda: client.channel_info(channel, attributes=["user_count", "subscription_count"])),
        ("users", f"users_info({channel!r})", lambda: client.users_info(channel)),
        ("all", "channels_info()", lambda: client.channels_info()),
    ]
    answers = {}
    for key, what, call in calls:
        try:
            answers[key] = call()
        except Exception as e:  # the SDK raises its own errors and requests' errors
            fail(f"{what} failed: {type(e).__name__}: {e}")
        print(f"{key} {json.dumps(answers[key], sort_keys=True)}", flush=True)
    print(f"ok {json.dumps(answers, sort_keys=True)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
