#!/usr/bin/env bash
# racelab-load --header: every request carries each given line, in order, a
# name given twice as two lines, "{n}" replaced by the request's number (each
# number once); a malformed --header is a usage error (exit 2). The server is
# a small keep-alive HTTP/1.1 server in Python that records what it got.
# Usage: racelab_load_headers_test.sh RACELAB_LOAD
set -euo pipefail
load=$1

python3 - "$load" <<'PY'
import http.server, json, subprocess, sys, threading

load = sys.argv[1]
seen = []  # (path, [X-Forwarded-For lines], X-Tag)
lock = threading.Lock()

class Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with lock:
            seen.append((self.path, self.headers.get_all("X-Forwarded-For") or [],
                         self.headers.get_all("X-Tag") or []))
        try:
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # a hang-up: the client did not wait for the answer

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = str(server.server_address[1])

def run(*flags):
    return subprocess.run([load, "--port", port, *flags], capture_output=True, text=True,
                          timeout=60)

done = run("--connections", "3", "--requests", "30", "--path", "/a", "--path", "/b",
           "--disconnects", "3",
           "--header", "X-Forwarded-For: 2001:db8::{n}",
           "--header", "X-Forwarded-For:203.0.113.7 ",
           "-H", "X-Tag: r{n}-{n}")
assert done.returncode == 0, done
out = json.loads(done.stdout)
assert out["requests"] == 27 and out["disconnects"] == 3, out
with lock:
    got = list(seen)
# Hang-ups carry the headers too, but the server may not see a request it was cut from.
assert 27 <= len(got) <= 30, got
numbers = []
for path, forwarded, tag in got:
    assert len(forwarded) == 2 and forwarded[1] == "203.0.113.7", forwarded
    assert forwarded[0].startswith("2001:db8::"), forwarded
    n = int(forwarded[0][len("2001:db8::"):])
    assert tag == [f"r{n}-{n}"], (n, tag)
    assert path == ("/a" if n % 2 == 0 else "/b"), (n, path)
    numbers.append(n)
assert len(set(numbers)) == len(numbers) and set(numbers) <= set(range(30)), sorted(numbers)

for bad in ("NoColon", ": empty name", "Bad Name: x"):
    done = run("--requests", "1", "--header", bad)
    assert done.returncode == 2 and "--header" in done.stderr, (bad, done)
server.shutdown()
print(f"racelab-load --header OK: {len(got)} requests, each with its own {{n}}")
PY
