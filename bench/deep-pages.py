#!/usr/bin/env python3
"""What a list's first page and a page deep in it cost, on a service with many accounts.

Usage: deep-pages.py ADMIN_TOKEN BASE_URL ACCOUNTS

Opens ACCOUNTS accounts at BASE_URL through non-atomic batches of 1,000 (ids
`a-0000000`... in order, owners `F` and `G` in turn, each with one deposit), waits until
the accounts view holds them all, then times each read below 30 times, one after
another, and prints the median and the slowest in milliseconds:
- `/accounts`, `/accounts?owner=F` and `/audit`: the first page and a page whose cursor
  is near the end of the list (the last ids, the oldest entries);
- `/audit?request_id=`: one batch's entries (an early batch);
- `/audit?event_type=MoneyDeposited` deep.
"""

import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

TOKEN, BASE, ACCOUNTS = sys.argv[1], sys.argv[2].rstrip("/"), int(sys.argv[3])


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, json.loads(r.read() or b"null"), r.headers


def fill():
    for start in range(0, ACCOUNTS, 500):
        ops = []
        for i in range(start, min(start + 500, ACCOUNTS)):
            owner = "F" if i % 2 == 0 else "G"
            ops.append({"op": "open_account", "account_id": f"a-{i:07d}", "owner": owner,
                        "currency": "USD"})
            ops.append({"op": "deposit", "account_id": f"a-{i:07d}", "amount": "1"})
        status, body, _ = call("POST", "/batches", {"atomic": False, "operations": ops})
        assert status == 200, (status, body)


def caught_up():
    while True:
        _, body, _ = call("GET", "/admin/projections")
        if all(p["lag_events"] == 0 for p in body["projections"]):
            return
        time.sleep(0.5)


def timed(path):
    times = []
    for _ in range(30):
        t = time.perf_counter()
        status, _, _ = call("GET", path)
        times.append((time.perf_counter() - t) * 1000)
        assert status == 200, (path, status)
    return statistics.median(times), max(times)


def main():
    fill()
    caught_up()
    _, audit, _ = call("GET", "/audit?limit=1")
    newest = int(audit["next_cursor"])
    _, early, _ = call("GET", f"/audit?limit=1&cursor={newest - ACCOUNTS * 2 + 10}")
    request = early["entries"][0]["request_id"]
    deep_id = f"a-{ACCOUNTS - 60:07d}"
    q = urllib.parse.quote
    rows = [
        ("/accounts, first page", "/accounts?limit=50"),
        ("/accounts, deep page", f"/accounts?limit=50&cursor={deep_id}"),
        ("/accounts?owner=F, first page", "/accounts?owner=F&limit=50"),
        ("/accounts?owner=F, deep page", f"/accounts?owner=F&limit=50&cursor={deep_id}"),
        ("/audit, first page", "/audit?limit=50"),
        ("/audit, deep page", "/audit?limit=50&cursor=100"),
        ("/audit?request_id=", f"/audit?request_id={q(request)}&limit=50"),
        ("/audit?event_type=MoneyDeposited, deep", "/audit?event_type=MoneyDeposited&limit=50&cursor=100"),
    ]
    for name, path in rows:
        median, slowest = timed(path)
        print(f"{name:42s} median {median:8.2f} ms   slowest {slowest:8.2f} ms")


main()
