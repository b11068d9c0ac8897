#!/usr/bin/env python3
"""Two instances, one hot account: how many deposits end in 409 `concurrency_conflict`.

    python3 bench/conflicts-hot.py SECONDS TOKEN http://127.0.0.1:18961 http://127.0.0.1:18962 [--spread]

Opens one account, then 16 clients (alternating between the instances given) deposit
1 unit into it, each request with its own Idempotency-Key, for SECONDS seconds. With
--spread, each client deposits into an account of its own instead. Prints the answers
by status and code, the latencies (p50, p99, maximum) and how many took over 0.5 s.
Only the standard library."""
import collections
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

SPREAD = "--spread" in sys.argv
SECONDS, TOKEN = float(sys.argv[1]), sys.argv[2]
BASES = [a for a in sys.argv[3:] if a != "--spread"]


def req(base, path, body, key=None):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    if key:
        headers["Idempotency-Key"] = key
    r = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                               headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=60) as x:
            return x.status, None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()).get("code")


run = uuid.uuid4().hex[:8]
accounts = [f"hot-{run}-{i}" for i in range(16)] if SPREAD else [f"hot-{run}"]
for account in accounts:
    assert req(BASES[0], "/accounts", {"account_id": account, "owner": "bench", "currency": "USD"})[0] == 201
answers, latencies, lock = collections.Counter(), [], threading.Lock()


def client(i):
    end = time.time() + SECONDS
    while time.time() < end:
        started = time.time()
        answer = req(BASES[i % len(BASES)], f"/accounts/{accounts[i % len(accounts)]}/deposit", {"amount": "1"},
                     uuid.uuid4().hex)
        with lock:
            answers[answer] += 1
            latencies.append(time.time() - started)


threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
latencies.sort()
total = sum(answers.values())
conflicts = answers[(409, "concurrency_conflict")]
print(f"{total} deposits: {dict(answers)}; 409s {conflicts} ({100 * conflicts / total:.2f} %); "
      f"p50 {latencies[total // 2] * 1000:.0f} ms, p99 {latencies[int(total * 0.99)] * 1000:.0f} ms, "
      f"max {latencies[-1] * 1000:.0f} ms, over 0.5 s {sum(1 for x in latencies if x > 0.5)}")
