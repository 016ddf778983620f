#!/usr/bin/env bash
# racelab-load against the counter pair's fixed server: the JSON keeps its
# totals and adds "paths", whose counts add up to the totals; and the
# server's /stats equals the /hit requests answered 200 (the pair's
# invariant, which the runner checks the same way).
# Usage: racelab_load_test.sh RACELAB_LOAD SERVER
set -euo pipefail
load=$1
server=$2

coproc SERVER { exec "$server" --port 0; }
server_pid=$SERVER_PID
trap 'kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
# The server prints "racelab: listening on HOST:PORT" once it serves.
read -r -t 60 line <&"${SERVER[0]}"
port=${line##*:}

# Hang-ups are counted on their path too.
hangups=$("$load" --port "$port" --connections 2 --requests 30 --path /missing --disconnects 3)
# The invariant run: no hang-ups, whose requests the server may or may not count.
out=$("$load" --port "$port" --connections 4 --requests 300 --path /hit --path /stats --path /missing)

python3 - "$port" "$hangups" "$out" <<'PY'
import json, sys, urllib.request
port, hangups, out = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])

def check_paths(out, expected):
    for key in ("requests", "status", "transport_errors", "disconnects", "latency_ms",
                "elapsed_ms", "peak_threads", "first_error", "paths"):
        assert key in out, f"missing key {key}: {out}"
    paths = out["paths"]
    assert sorted(paths) == expected, paths
    for key in ("requests", "transport_errors", "disconnects"):
        assert sum(p[key] for p in paths.values()) == out[key], (key, out)
    statuses = {}
    for p in paths.values():
        assert sum(p["status"].values()) == p["requests"], p
        for code, n in p["status"].items():
            statuses[code] = statuses.get(code, 0) + n
    assert statuses == out["status"], (statuses, out["status"])
    return paths

check_paths(hangups, ["/missing"])
assert hangups["paths"]["/missing"]["disconnects"] == 3, hangups
paths = check_paths(out, ["/hit", "/missing", "/stats"])
assert set(paths["/missing"]["status"]) == {"404"}, paths["/missing"]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=20) as r:
    stats = int(r.read().decode().strip())
hits = paths["/hit"]["status"].get("200", 0)
assert hits == 100 and stats == hits, f"/stats says {stats}, /hit answered 200 {hits} times"
print(f"racelab-load paths OK: /hit 200 x{hits} == /stats {stats}")
PY
