#!/usr/bin/env python3
"""Fake scenario server that ignores SIGTERM and never exits by itself."""
import signal
import threading

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("racelab: listening on 127.0.0.1:40004", flush=True)
threading.Event().wait()
