#!/usr/bin/env python3
"""Fake scenario server that exits with status 3 before printing its listening line."""
import sys

print("fatal: cannot bind", file=sys.stderr, flush=True)
sys.exit(3)
