#!/usr/bin/env python3
"""A burst of pending transfers all due at once, and how long after `expires_at` the
expirer recorded each expiry (API.md: within 5 seconds).

    python3 bench/expiry-burst.py http://127.0.0.1:8080 3000 [admin-token]

Opens 20 accounts, makes N pending transfers (1 unit each, expiring in 3 s) in atomic
batches of 1,000, waits until every one reads `expired`, then takes each expiry's
`PendingTransferReleased` (actor `system:expirer`) from the payers' histories and prints
the delay after `expires_at`: median, 99th percentile, maximum, and how many took over
five seconds. Only the standard library."""
import datetime
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

BASE, N = sys.argv[1], int(sys.argv[2])
TOKEN = sys.argv[3] if len(sys.argv) > 3 else None


def req(method, path, body=None):
    headers = {"Content-Type": "application/json"}
    if TOKEN:
        headers["Authorization"] = f"Bearer {TOKEN}"
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=60) as x:
            return x.status, json.loads(x.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


run = uuid.uuid4().hex[:6]
accounts = [f"burst-{run}-{i}" for i in range(20)]
for a in accounts:
    assert req("POST", "/accounts", {"account_id": a, "owner": "bench", "currency": "USD"})[0] == 201
    assert req("POST", f"/accounts/{a}/deposit", {"amount": "100000"})[0] == 200
ids = []
for b in range((N + 999) // 1000):
    ops = []
    for i in range(min(1000, N - b * 1000)):
        tid = f"burst-{run}-{b}-{i}"
        ids.append(tid)
        ops.append({"op": "transfer", "transfer_id": tid, "from_account_id": accounts[i % 20],
                    "to_account_id": accounts[(i + 1) % 20], "amount": "1", "pending": True,
                    "expires_in_seconds": 3})
    status, body = req("POST", "/batches", {"atomic": True, "operations": ops})
    assert status == 200, (status, body)
due = {}
deadline = time.time() + 120
for tid in ids:
    while True:
        status, t = req("GET", f"/transfers/{tid}")
        if t["status"] == "expired":
            due[tid] = instant(t["expires_at"])
            break
        assert time.time() < deadline, f"{tid} still {t['status']}"
        time.sleep(0.5)
recorded = {}
for a in accounts:
    after = 0
    while True:
        _, page = req("GET", f"/accounts/{a}/events?after_version={after}&limit=1000")
        if not page["events"]:
            break
        for e in page["events"]:
            tid = e["data"].get("transfer_id")
            if (e["event_type"] == "PendingTransferReleased" and tid in due
                    and e["metadata"].get("actor") == "system:expirer"):
                recorded.setdefault(tid, instant(e["recorded_at"]))
        after = page["next_after_version"]
delays = sorted(recorded[t] - due[t] for t in due)
assert len(delays) == N, (len(delays), N)
p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
print(f"{N} expiries: median {p(0.5):.2f} s, p99 {p(0.99):.2f} s, max {delays[-1]:.2f} s "
      f"after expires_at; over 5 s: {sum(d > 5 for d in delays)}")
