"""Helpers for tests that start and kill real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def open_fds_settled(below: int | None = None, timeout: float = 5.0) -> int:
    """This process's open file descriptors; with ``below``, after waiting up to ``timeout`` for the count
    to drop under it (servers in this process close their side of finished connections a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        count = len(os.listdir("/proc/self/fd")) - 1  # (not the one listing them)
        if below is None or count < below or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def child_gone_after_parent_killed(script: str, *args: str, cwd: Path) -> bool:
    """Run ``script`` (Python; it starts a child process and prints the child's pid), kill it with -9,
    and say whether the child went away too."""
    with subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True,
                          cwd=cwd) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert alive(child)
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            return wait_gone(child)
        finally:
            if parent.poll() is None:
                parent.kill()
