#!/usr/bin/env python3
"""Fake racelab-load that prints something that is not a JSON object."""
print("Segmentation fault? no: just not JSON {requests: 12")
