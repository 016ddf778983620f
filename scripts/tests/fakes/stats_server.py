#!/usr/bin/env python3
"""Fake scenario server that answers HTTP: GET /stats gives the number in `<its path>.stats`
(default 100); anything else 404. Listens on a free loopback port, prints its listening
line, serves on a thread, and exits 0 on SIGTERM."""
import http.server
import os
import re
import signal
import sys
import threading

# What the runtime writes into its log at start-up with verbosity=1 (racelab's proof that
# the process was instrumented).
_log_path = re.search(r'log_path=("[^"]*"|\S+)', os.environ.get("TSAN_OPTIONS", ""))
if _log_path:
    with open(f"{_log_path.group(1).strip(chr(34))}.{os.getpid()}", "a") as _log:
        _log.write(f"***** Running under ThreadSanitizer v3 (pid {os.getpid()}) *****\n")

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
assert "--port" in sys.argv and "--threads" in sys.argv, sys.argv
stats_file = os.path.realpath(__file__) + ".stats"
stats = open(stats_file).read().strip() if os.path.exists(stats_file) else "100"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (stats + "\n").encode() if self.path == "/stats" else b"not found\n"
        self.send_response(200 if self.path == "/stats" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
thread = threading.Thread(target=server.serve_forever, name="fake-http", daemon=True)
thread.start()
print(f"racelab: listening on 127.0.0.1:{server.server_address[1]}", flush=True)
signal.sigwait(stop)
server.shutdown()
thread.join(timeout=10)
sys.exit(0)
