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
import sys

from sdk_common import fail, sdk_client


def main(argv):
    if len(argv) != 1:
        fail("usage: python_channels.py <presence-channel>")
    (channel,) = argv

    client = sdk_client()
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
