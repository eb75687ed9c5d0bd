#!/usr/bin/env python3
"""Scheduler bench driver: schedules N notifications due within one window through the batch
API, then watches /metrics until they are delivered and reports throughput, lateness and the
store's size. With --load, it also measures the shards' fan-out beside the scheduler in the
same run (see fanout_slices.py). Standard library only; started by `scripts/bench scheduler`.

Usage: drive.py --port P --data-dir DIR [--count 1000000] [--users 100000] [--window 60]
                [--pulses 1] [--lead 90] [--threads 2] [--load RINGCAST_LOAD] [--json OUT]

--pulses N cuts the window's due times into N pulses of window/N seconds, each followed by a
gap as long, at the same rate: the fan-out is then compared between slices inside and
outside the pulses, interleaved (the machine's own drift moves a p99 by more than the
effect measured when the quiet phases are only before and after one busy minute).

Lateness comes from the server's `ringcast_notification_lateness_seconds` histogram (from a
notification's deliver_at to its frame handed to the shard), so p50/p99 are bucket bounds.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import queue
import threading
import time
from datetime import datetime, timezone

import fanout_slices


def signed(args, method, path, body):
    """`path?query` signed as the Pusher SDKs sign REST calls."""
    q = {
        "auth_key": args.key,
        "auth_timestamp": str(int(time.time())),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),
    }
    query = "&".join(f"{k}={q[k]}" for k in sorted(q))
    to_sign = f"{method}\n{path}\n{query}".encode()
    sig = hmac.new(args.secret.encode(), to_sign, hashlib.sha256).hexdigest()
    return f"{path}?{query}&auth_signature={sig}"


def rfc3339(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def due_ms(k, args, start_ms):
    """Item k's due time: spread evenly over the window, which --pulses cuts into pulses each
    followed by an equal gap."""
    offset = (args.window * 1000 * k) // args.count
    pulse_ms = args.window * 1000 // args.pulses
    return start_ms + offset + (offset // pulse_ms) * pulse_ms


def due_windows(args, start_ms):
    """[from, to) of every pulse, in Unix milliseconds."""
    pulse_ms = args.window * 1000 // args.pulses
    return [(start_ms + 2 * i * pulse_ms, start_ms + (2 * i + 1) * pulse_ms) for i in range(args.pulses)]


def batch_body(first, size, args, start_ms):
    """Items first..first+size: user k mod users, due times from due_ms, each with a client id
    so that a batch sent again after a 503 creates nothing twice."""
    items = []
    for k in range(first, first + size):
        due = due_ms(k, args, start_ms)
        items.append(
            '{"id":"b%d","user_id":%d,"event":"reminder","data":{"n":%d},"scheduled_at":"%s",'
            '"respect_quiet_hours":false}' % (k, k % args.users, k, rfc3339(due))
        )
    return ('{"batch":[' + ",".join(items) + "]}").encode()


def schedule(args, start_ms):
    """Posts every batch from `args.threads` keep-alive connections; returns (seconds, created)."""
    path = f"/apps/{args.app_id}/notifications/batch"
    todo = queue.Queue()
    for first in range(0, args.count, 1000):
        todo.put(first)
    created = [0]
    retried = [0]
    errors = []
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        while True:
            try:
                first = todo.get_nowait()
            except queue.Empty:
                return
            body = batch_body(first, min(1000, args.count - first), args, start_ms)
            for attempt in range(10):
                conn.request("POST", signed(args, "POST", path, body), body,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                answer = resp.read()
                # 503: the control core was busy past the shard's wait; the ids make a retry safe.
                if resp.status != 503:
                    break
                with lock:
                    retried[0] += 1
                time.sleep(0.2 * (attempt + 1))
            with lock:
                if resp.status != 201:
                    errors.append(f"{resp.status} {answer[:300]!r}")
                else:
                    created[0] += len(json.loads(answer)["results"])

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        hint = ""
        if "must be in the future" in errors[0]:
            hint = " (accepting outlasted --lead, LEAD in scripts/bench: raise it)"
        raise SystemExit(f"drive.py: {len(errors)} batches refused{hint}, first: {errors[0]}")
    if retried[0]:
        print(f"drive.py: {retried[0]} batches answered 503 and were sent again", flush=True)
    return time.monotonic() - began, created[0]


def metrics(args):
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    out = {"buckets": []}
    for line in text.splitlines():
        if line.startswith("ringcast_notifications_delivered_total "):
            out["delivered"] = int(line.split()[1])
        elif line.startswith("ringcast_notifications_failed_total "):
            out["failed"] = int(line.split()[1])
        elif line.startswith("ringcast_notification_lateness_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            out["buckets"].append((float(le), int(line.split()[-1])))
        elif line.startswith("ringcast_notification_lateness_seconds_sum "):
            out["lateness_sum_s"] = float(line.split()[1])
    return out


def quantile(buckets, q):
    """The upper bound of the bucket holding quantile `q` of a cumulative histogram."""
    total = buckets[-1][1] if buckets else 0
    for le, cumulative in buckets:
        if total and cumulative >= q * total:
            return le
    return None


def per_minute(samples):
    """The most deliveries in any 60 s (or, for a shorter run, the rate scaled to a minute)."""
    best = 0.0
    for i, (t0, d0) in enumerate(samples):
        for t1, d1 in samples[i + 1:]:
            if t1 - t0 >= 60:
                best = max(best, float(d1 - d0))
                break
    if best == 0.0 and len(samples) > 1:
        (t0, d0), (t1, d1) = samples[0], samples[-1]
        best = (d1 - d0) * 60 / max(t1 - t0, 1e-9)
    return best


def cpu_seconds(pid):
    """CPU seconds (user + system) of the server's threads by name: the control core and the
    shards together. On a machine shared with other work, these say what the scheduler costs
    when wall-clock rates only say what it got."""
    out = {}
    if not pid:
        return out
    tick = os.sysconf("SC_CLK_TCK")
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"{task_dir}/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = "control" if "contro" in name else "shards" if "shard" in name else "other"
        out[group] = out.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def spent(before, after):
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in after}


def store_bytes(data_dir):
    return sum(
        os.path.getsize(os.path.join(data_dir, f))
        for f in os.listdir(data_dir)
        if f.startswith("ringcast.db")
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--app-id", default="1000")
    p.add_argument("--key", default="ringcast-dev-key")
    p.add_argument("--secret", default="ringcast-dev-secret")
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--window", type=int, default=60, help="seconds the due times span")
    p.add_argument("--pulses", type=int, default=1, help="pulses the window is cut into")
    p.add_argument("--lead", type=int, default=90, help="seconds from now to the first due time")
    p.add_argument("--load", help="ringcast-load, to measure the fan-out beside the scheduler")
    p.add_argument("--load-core", help="the core to run ringcast-load on (taskset -c)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--server-pid", type=int, help="to report the CPU seconds each phase cost")
    p.add_argument("--json")
    args = p.parse_args()

    start_ms = int(time.time() * 1000) + args.lead * 1000
    cpu_start = cpu_seconds(args.server_pid)
    accept_s, created = schedule(args, start_ms)
    cpu_accepted = cpu_seconds(args.server_pid)
    print(f"accepted {created} in {accept_s:.1f} s ({created / accept_s:.0f}/s)", flush=True)
    if time.time() * 1000 > start_ms:
        print("drive.py: accepting outlasted --lead; the first ones went out while inserting")
    windows = due_windows(args, start_ms)
    fanout = fanout_slices.start(args, windows[-1][1]) if args.load else None
    samples = []
    cpu_due = cpu_accepted
    deadline = windows[-1][1] / 1000 + 120
    while time.time() < deadline:
        m = metrics(args)
        samples.append((time.monotonic(), m.get("delivered", 0)))
        if m.get("delivered", 0) + m.get("failed", 0) >= created:
            break
        if m.get("delivered", 0) == 0:
            cpu_due = cpu_seconds(args.server_pid)
        time.sleep(0.5)
    m = metrics(args)
    cpu_end = cpu_seconds(args.server_pid)
    # From the last sample before the first delivery: the run's deliveries only.
    first = next((i for i, s in enumerate(samples) if s[1] > 0), len(samples))
    active = samples[max(first - 1, 0):]
    report = {
        "scheduled": created,
        "accept_seconds": round(accept_s, 2),
        "accept_per_second": round(created / accept_s),
        "delivered": m.get("delivered"),
        "failed": m.get("failed"),
        "delivered_per_minute": round(per_minute(active)),
        "delivery_span_seconds": round(active[-1][0] - active[0][0], 1) if active else None,
        "lateness_p50_le_s": quantile(m["buckets"], 0.50),
        "lateness_p99_le_s": quantile(m["buckets"], 0.99),
        "lateness_mean_s": round(m.get("lateness_sum_s", 0) / max(m.get("delivered") or 1, 1), 4),
        "store_bytes": store_bytes(args.data_dir),
    }
    if args.server_pid:
        report["cpu_s_accepting"] = spent(cpu_start, cpu_accepted)
        report["cpu_s_delivering"] = spent(cpu_due, cpu_end)
    if fanout:
        report["fanout"] = fanout_slices.finish(fanout, windows)
    print(json.dumps(report, indent=2), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
