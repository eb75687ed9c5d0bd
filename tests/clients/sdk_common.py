"""What every Python client script shares: failing with a reason, the environment, a hard
timeout and the official `pusher` SDK client pointed at the server under test.

Env: RINGCAST_HOST (127.0.0.1), RINGCAST_PORT (required), APP_ID (424242, numeric), APP_KEY
(test-key), APP_SECRET (test-secret), CLIENT_TIMEOUT_MS (20000).
"""

import os
import signal
import sys

SCRIPT = os.path.basename(sys.argv[0])


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


def sdk_client():
    """Arms the script's timeout, then returns a `pusher.Pusher` for the server under test."""
    timeout_ms = int(env("CLIENT_TIMEOUT_MS", "20000"))
    signal.signal(signal.SIGALRM, lambda *_: fail(f"timed out after {timeout_ms} ms"))
    signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)

    import pusher  # imported after the timer so even a stuck import is bounded

    return pusher.Pusher(
        app_id=env("APP_ID", "424242"),
        key=env("APP_KEY", "test-key"),
        secret=env("APP_SECRET", "test-secret"),
        host=env("RINGCAST_HOST", "127.0.0.1"),
        port=int(env("RINGCAST_PORT")),
        ssl=False,
        timeout=max(1, timeout_ms // 1000),
    )
