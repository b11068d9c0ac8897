#!/usr/bin/env python3
"""How long the live read models and the feed stall while a rebuild finishes.

Usage: feed-during-rebuild.py ADMIN_TOKEN BASE_URL EVENTS

Fills the service at BASE_URL (PostgreSQL, projections on) with EVENTS deposits over
10,000 accounts through non-atomic batches, waits for the projections, then starts
`POST /admin/rebuild-projections` and, until the rebuild has ended, makes one deposit
every 50 ms on a probe account and measures how long each takes to show in the global
feed (`GET /events`, which the live projections, the live streams and the relay read).
Prints the slowest, when it was sent, and how many took over a second.
"""

import json
import sys
import threading
import time
import urllib.request

TOKEN, BASE, EVENTS = sys.argv[1], sys.argv[2].rstrip("/"), int(sys.argv[3])
ACCOUNTS = 10_000


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def batch(ops):
    status, body = call("POST", "/batches", {"atomic": False, "operations": ops})
    assert status == 200, (status, body)


def fill():
    opens = [{"op": "open_account", "account_id": f"f-{i}", "owner": "F", "currency": "USD"}
             for i in range(ACCOUNTS)]
    for i in range(0, ACCOUNTS, 1000):
        batch(opens[i:i + 1000])
    left = EVENTS - ACCOUNTS

    def worker(n):
        for _ in range(n):
            batch([{"op": "deposit", "account_id": f"f-{(k * 7919) % ACCOUNTS}", "amount": "1"}
                   for k in range(1000)])

    per = max(left // 1000 // 4, 1)
    threads = [threading.Thread(target=worker, args=(per,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def states():
    _, body = call("GET", "/admin/projections")
    return {r["name"]: r for r in body["projections"]}


def caught_up():
    while not all(r["state"] == "live" and r["lag_events"] == 0 for r in states().values()):
        time.sleep(1)


def feed_end():
    """The feed's cursor after its last event (read page by page from the start)."""
    _, page = call("GET", "/events?limit=1000")
    while page["events"]:
        cursor = page["next"]
        status, page = call("GET", f"/events?after={cursor}&limit=1000")
        assert status == 200, (status, page)
    return cursor


def main():
    start = time.time()
    fill()
    status, _ = call("POST", "/accounts", {"account_id": "probe", "owner": "P", "currency": "USD"})
    assert status == 201
    caught_up()
    cursor = feed_end()
    print(f"filled {EVENTS} events and caught up in {time.time() - start:.0f} s", flush=True)
    status, body = call("POST", "/admin/rebuild-projections")
    assert status == 202, (status, body)
    began, lags = time.time(), []
    while True:
        status, account = call("POST", "/accounts/probe/deposit", {"amount": "1"})
        assert status == 200, (status, account)
        sent, version, seen = time.time(), account["version"], False
        while not seen:
            _, page = call("GET", f"/events?after={cursor}&limit=1000")
            seen = any(e["stream_id"] == "probe" and e["version"] == version
                       for e in page["events"])
            cursor = page["next"]
            if not seen:
                time.sleep(0.005)
        lags.append((time.time() - sent, sent - began))
        if all(r["state"] == "live" for r in states().values()):
            break
        time.sleep(0.05)
    took = time.time() - began
    slowest = max(lags)
    over = sum(1 for lag, _ in lags if lag > 1)
    print(f"rebuild took {took:.1f} s; {len(lags)} probes; slowest {slowest[0] * 1000:.0f} ms "
          f"(sent {slowest[1]:.1f} s in); median {sorted(lags)[len(lags) // 2][0] * 1000:.0f} ms; "
          f"over 1 s: {over}")


if __name__ == "__main__":
    main()
