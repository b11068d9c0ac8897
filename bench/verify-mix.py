# A mixed ledger filled through the HTTP API, for timing `ledger verify` by hand
# (BENCHMARKS.md, twenty-sixth session): deposits, transfers, pending transfers posted
# in part or voided, in two currencies. Usage: python3 bench/verify-mix.py BASE EVENTS
import json, sys, urllib.request, random, concurrent.futures
base, target = sys.argv[1], int(sys.argv[2])
random.seed(7)
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
N = 1000
post("/batches", {"atomic": False, "operations": [
    {"op": "open_account", "account_id": f"a{i}", "owner": "o", "currency": "USD" if i % 2 else "EUR"} for i in range(N)]})
post("/batches", {"atomic": False, "operations": [
    {"op": "deposit", "account_id": f"a{i}", "amount": "1000000"} for i in range(N)]})
def batch(b):
    ops = []
    for k in range(300):
        i = random.randrange(N)
        j = (i + 2 * random.randrange(1, N // 2)) % N   # same currency (same parity)
        r = random.random()
        if r < 0.6:
            ops.append({"op": "deposit", "account_id": f"a{i}", "amount": "1.25"})
        elif r < 0.9:
            ops.append({"op": "transfer", "from_account_id": f"a{i}", "to_account_id": f"a{j}", "amount": "0.75"})
        else:
            t = f"p{b}-{k}"
            ops.append({"op": "transfer", "transfer_id": t, "from_account_id": f"a{i}", "to_account_id": f"a{j}", "amount": "2", "pending": True})
            ops.append({"op": "post_transfer", "transfer_id": t, "amount": "1"} if r < 0.97 else {"op": "void_transfer", "transfer_id": t})
    post("/batches", {"atomic": False, "operations": ops})
# about 300 ops -> ~2.1 events each
batches = target // 640
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(batch, range(batches)))
print("batches", batches)
