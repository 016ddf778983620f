"""Child processes the runner and the gate start: each leads its own process group
(start_new_session=True), so one signal reaches everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process's whole group, then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    proc.wait()


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group, leader first, then by pid."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and fields[2] == str(pgid):
            members.append(int(stat.parent.name))
    return sorted(members, key=lambda pid: (pid != pgid, pid))
