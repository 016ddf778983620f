#!/usr/bin/env python3
"""Fake scenario server that dies by SIGSEGV right after its listening line."""
import os
import resource
import signal

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
print("racelab: listening on 127.0.0.1:40003", flush=True)
signal.signal(signal.SIGSEGV, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGSEGV)
