#!/usr/bin/env python3
"""Runs the README's curl walkthrough verbatim against the compiled binary on a fresh
SQLite file and checks every answer it shows ("…" stands for ids, times and request
ids, which differ from run to run). Usage: scripts/readme.py <ledger binary>."""
import os, re, shutil, socket, subprocess, sys, tempfile, time

def blocks(readme):
    text = readme.split("## A walkthrough with curl", 1)[1].split("\n## ", 1)[0]
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            j = lines.index("```", i + 1)
            script = "\n".join(lines[i + 1:j])
            k, expected = j + 1, []
            while k < len(lines) and lines[k].startswith("`{"):
                expected.append(lines[k].strip().strip("`"))
                k += 1
            out.append((script, "\n".join(expected)))
            i = k
        else:
            i += 1
    return out

def main():
    binary = os.path.abspath(sys.argv[1])
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8080)) == 0:
            sys.exit("readme.py: port 8080 is taken; the walkthrough needs it")
    work = tempfile.mkdtemp()
    env = dict(os.environ, LEDGER__AUTH__ADMIN_TOKEN="dev-admin-token", LEDGER__LOG__LEVEL="error")
    server = subprocess.Popen([binary], cwd=work, env=env)
    try:
        for _ in range(100):
            if subprocess.run(["curl", "-fs", "localhost:8080/health"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        checked = 0
        for script, expected in blocks(readme):
            time.sleep(0.3)  # a reader's pace: the views catch up between commands
            got = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True).stdout
            if not expected:
                continue
            pattern = ".*?".join(re.escape(part) for part in expected.split("…"))
            if not re.fullmatch(pattern, got.strip(), re.S):
                sys.exit(f"readme.py: the walkthrough differs\n$ {script}\nexpected: {expected}\n     got: {got}")
            checked += 1
        print(f"readme.py: {checked} answers of the README walkthrough match")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

main()
