#!/usr/bin/env bash
# racelab-load's driver threads and its answer to servers that misbehave:
#   - --threads 1 --connections 64: 64 requests wait on the server at once
#     while racelab-load has one driver thread, "rl-load-0";
#   - by default, one driver per core, never more than the connections;
#   - a server answering garbage: every request a transport error,
#     "first_error" says why, exit 2 (no request got through), JSON printed;
#   - a server that never answers: each request fails at --timeout-ms, no hang;
#   - --threads 0 is a usage error (exit 2).
# The server is a small HTTP/1.1 server in Python; while every connection's
# first request waits at a barrier, the test reads racelab-load's thread names
# from /proc.
# Usage: racelab_load_drivers_test.sh RACELAB_LOAD
set -euo pipefail
load=$1

python3 - "$load" <<'PY'
import json, os, socketserver, subprocess, sys, threading

load = sys.argv[1]
PATIENCE = 60  # seconds; how long a broken run takes to fail, never how long a good one takes


class Scenario:
    """What the server does now; set between runs, read by the handlers."""
    mode = "ok"            # "ok", "garbage" or "silent"
    barrier = None         # every connection's first request waits here, when set
    client_pid = 0
    drivers_seen = None    # racelab-load's rl-load-N threads while the barrier was full


def driver_threads(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        if name.startswith("rl-load-") and name[len("rl-load-"):].isdigit():
            names.append(name)
    return sorted(names)


def note_drivers():  # the barrier's action: every first request is waiting now
    Scenario.drivers_seen = driver_threads(Scenario.client_pid)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        first = True
        while True:
            line = self.rfile.readline()
            if not line:
                return
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # the rest of the head
            if first and Scenario.barrier is not None:
                Scenario.barrier.wait()
            first = False
            if Scenario.mode == "silent":
                continue
            if Scenario.mode == "garbage":
                self.wfile.write(b"HTTP/1.1 two hundred\r\n\r\n")
            else:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # a client that closed mid-answer


server = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = str(server.server_address[1])


def run(*flags):
    proc = subprocess.Popen([load, "--port", port, *flags], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    Scenario.client_pid = proc.pid
    out, err = proc.communicate(timeout=PATIENCE)
    return proc.returncode, out, err


def drivers_while_all_connections_wait(connections, *flags):
    Scenario.mode = "ok"
    Scenario.drivers_seen = None
    Scenario.barrier = threading.Barrier(connections, action=note_drivers, timeout=PATIENCE)
    rc, out, err = run("--connections", str(connections), "--requests", str(2 * connections),
                       *flags)
    Scenario.barrier = None
    assert rc == 0, (rc, err)
    got = json.loads(out)
    assert got["requests"] == 2 * connections and got["status"] == {"200": 2 * connections}, got
    return Scenario.drivers_seen

seen = drivers_while_all_connections_wait(64, "--threads", "1")
assert seen == ["rl-load-0"], f"--threads 1 --connections 64 ran drivers {seen}"

cores = len(os.sched_getaffinity(0))
seen = drivers_while_all_connections_wait(32)
assert seen == [f"rl-load-{k}" for k in range(min(cores, 32))], (cores, seen)
seen = drivers_while_all_connections_wait(1)
assert seen == ["rl-load-0"], f"one connection, drivers {seen}"

Scenario.mode = "garbage"
rc, out, err = run("--connections", "2", "--requests", "10", "--path", "/a", "--path", "/b")
got = json.loads(out)
assert rc == 2 and "no request got through" in err, (rc, err)
assert got["requests"] == 0 and got["transport_errors"] == 10, got
assert got["first_error"].startswith("read: bad status line"), got["first_error"]
assert {p: v["transport_errors"] for p, v in got["paths"].items()} == {"/a": 5, "/b": 5}, got

Scenario.mode = "silent"
rc, out, err = run("--connections", "2", "--requests", "4", "--timeout-ms", "200")
got = json.loads(out)
assert rc == 2, (rc, err)
assert got["transport_errors"] == 4 and got["first_error"] == "read: timed out after 200 ms", got
assert got["elapsed_ms"] >= 400, got  # two requests in turn per connection, each its deadline

rc, out, err = run("--threads", "0", "--requests", "1")
assert rc == 2 and "--threads" in err, (rc, err)

server.shutdown()
print(f"racelab-load drivers OK: one driver for 64 connections; {min(cores, 32)} by default "
      "for 32; garbage and silence are transport errors")
PY
