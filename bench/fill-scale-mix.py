# A store filled through the HTTP API with the scale bench's mix (bench/src/scale/fill.rs:
# atomic batches of 900 deposits and 100 transfers over 10,000 accounts, 4 clients), kept
# for timing `ledger verify` and `ledger projections rebuild` by hand (BENCHMARKS.md,
# thirty-fifth session). Usage: python3 bench/fill-scale-mix.py BASE EVENTS
import json, sys, urllib.request, concurrent.futures
base, target = sys.argv[1], int(sys.argv[2])
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)
N = 10000
for c in range(0, N, 1000):
    post("/batches", {"operations": [{"op": "open_account", "account_id": f"x-{i}", "owner": "o", "currency": "USD"} for i in range(c, c + 1000)]})
def batch(k):
    a = k % N; to = (a + 4) % N
    ops = [{"op": "deposit", "account_id": f"x-{a}", "amount": "1.00", "description": "fill"} for _ in range(900)]
    ops += [{"op": "transfer", "from_account_id": f"x-{a}", "to_account_id": f"x-{to}", "amount": "0.50"} for _ in range(100)]
    post("/batches", {"operations": ops})
n = target // 1200
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(batch, range(n)))
print("batches", n)
