#!/usr/bin/env python3
"""Fake scenario server: prints its listening line, exits 0 on SIGTERM or SIGINT."""
import signal
import sys

stop = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stop)
assert "--port" in sys.argv and "--threads" in sys.argv, sys.argv
print("racelab: listening on 127.0.0.1:40001", flush=True)
signal.sigwait(stop)
sys.exit(0)
