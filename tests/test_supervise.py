"""scripts/supervise, which keeps `make run`'s beat scheduler (the sweeper) alive."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

SUPERVISE = Path(settings.BASE_DIR) / "scripts" / "supervise"


def _commands(pid: int) -> list[int]:
    """Pids of `pid`'s children running the supervised `sleep 600`."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(child) for child in path.read_text().split()] if path.exists() else []
    return [
        child
        for child in children
        if Path(f"/proc/{child}/cmdline").exists()
        and Path(f"/proc/{child}/cmdline").read_bytes() == b"sleep\x00600\x00"
    ]


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_command_is_started_again_and_stopping_stops_both(report_figure):
    # given a supervised long-running command
    supervisor = subprocess.Popen(
        [str(SUPERVISE), "sleep", "600"], stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        assert _wait_for(lambda: len(_commands(supervisor.pid)) == 1, timeout=10)
        (first,) = _commands(supervisor.pid)
        # when the command is killed with SIGKILL
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        # then a new one runs within seconds
        assert _wait_for(lambda: _commands(supervisor.pid) not in ([], [first]), timeout=10)
        report_figure(f"killed command running again after {time.monotonic() - killed_at:.1f} s")
        (second,) = _commands(supervisor.pid)
        # and stopping the supervisor stops the command too, for good
        supervisor.terminate()
        assert supervisor.wait(timeout=10) == 0
        assert _wait_for(lambda: not Path(f"/proc/{second}").exists(), timeout=10)
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
    assert supervisor.stderr is not None
    assert b"'sleep' stopped (status 137); starting it again" in supervisor.stderr.read()
