#!/usr/bin/env python3
"""Fake scenario server that never prints its listening line and never exits by itself."""
import sys
import threading

print("starting up, but never listening", flush=True)
print("some noise on stderr", file=sys.stderr, flush=True)
threading.Event().wait()
