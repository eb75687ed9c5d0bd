"""The shards' fan-out measured beside the scheduler, in the same run on the same server.

One `ringcast-load fanout` run (1,000 subscribers, 10 events/s) from the end of accepting until
TAIL_S after the last due time, with its latency reported per SLICE_S slice and the slice's
wall-clock bounds. A slice is *busy* when it lies inside a due window, *quiet* when it is clear
of every window by BEFORE_MS before it (the scheduler claims what falls due within 2 s, so its
work starts ahead of the window) and AFTER_MS after it (the last deliveries drain); the rest
are left out. The medians of the busy and quiet slices' p99 are compared.

Why slices of one run: a fan-out run per phase (fresh connections, a fresh client process)
moved the p99 by 20-50% between two quiet phases, and this machine's speed drifts over
minutes; slices of one run keep the connections fixed, and pulses (drive.py --pulses)
interleave busy and quiet time so that a drift weighs on both alike.
"""

import json
import os
import statistics
import subprocess
import time

SLICE_S = 5
BEFORE_MS = 3000
AFTER_MS = 2000
TAIL_S = 30


def start(args, last_due_ms):
    """Starts the fan-out run; returns what finish() needs."""
    path = os.path.join(args.data_dir, "fanout.json")
    duration = max(10, int(last_due_ms / 1000 - time.time()) + TAIL_S)
    command = [
        args.load, "fanout", "--connections", "1000", "--rate", "10",
        "--duration", str(duration), "--slice-secs", str(SLICE_S),
        "--app-id", args.app_id, "--key", args.key, "--secret", args.secret,
        "--port", str(args.port), "--json", path,
    ]
    if args.server_pid:
        command += ["--server-pid", str(args.server_pid)]
    if args.load_core is not None:
        command = ["taskset", "-c", str(args.load_core)] + command
    return subprocess.Popen(command, stdout=subprocess.DEVNULL), path


def kind(slice_from, slice_to, windows):
    """busy, quiet-before, quiet-between, quiet-after, or None (left out)."""
    if any(slice_from >= a and slice_to <= b for a, b in windows):
        return "busy"
    if any(slice_from < b + AFTER_MS and slice_to > a - BEFORE_MS for a, b in windows):
        return None
    if slice_to <= windows[0][0]:
        return "quiet-before"
    if slice_from >= windows[-1][1]:
        return "quiet-after"
    return "quiet-between"


def finish(handle, windows):
    """Waits for the fan-out run and compares its busy and quiet slices."""
    proc, path = handle
    proc.wait()
    report = json.load(open(path))
    p99 = {}
    slices = []
    for s in report.get("slices", []):
        k = kind(s["from_unix_ms"], s["to_unix_ms"], windows)
        lat = s["latency_us"]
        slices.append([s["from_unix_ms"], lat["p50"], lat["p99"], k or "left out"])
        if k:
            p99.setdefault(k, []).append(lat["p99"])
    quiet = [v for k, vs in p99.items() if k != "busy" for v in vs]
    out = {
        "lost": report.get("lost"),
        "slice_seconds": SLICE_S,
        "p99_median_us": {k: statistics.median(vs) for k, vs in sorted(p99.items())},
        "slices_counted": {k: len(vs) for k, vs in sorted(p99.items())},
        "slices": slices,
    }
    if quiet and p99.get("busy"):
        q, b = statistics.median(quiet), statistics.median(p99["busy"])
        out["quiet_p99_median_us"] = q
        out["busy_p99_median_us"] = b
        out["busy_vs_quiet_percent"] = round((b / q - 1) * 100, 1)
    return out
