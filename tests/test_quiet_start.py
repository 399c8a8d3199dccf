"""What the processes write on their own: no kombu warning per upload from the file-system
broker, and no TensorFlow GPU probing errors where there is no GPU to find (other lines,
errors included, still reach stderr)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from kombu import Connection

from inference.classifier import GPU_PROBE_LINES, NVIDIA_DRIVER, native_stderr_without


def test_the_default_broker_url_names_a_host_so_kombu_does_not_warn_per_connection(caplog):
    # given the broker URL the settings build (file-system by default, Redis in CI)
    connection = Connection(settings.CELERY_BROKER_URL)
    # when kombu copies its connection, as it does for every task sent (each upload)
    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        connection.clone().release()
    connection.release()
    # then it has a host and says nothing about a missing one
    assert connection.hostname
    assert "No hostname was supplied" not in caplog.text


def test_only_gpu_probing_lines_are_left_out_of_native_stderr(capfd):
    # given TensorFlow's GPU probing lines and a real error, written below Python (fd 2)
    written = [
        b"I0000 00:00:1.1 1 cudart_stub.cc:31] Could not find cuda drivers on your machine\n",
        b"E0000 00:00:1.2 1 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n",
        b"E0000 00:00:1.3 1 op_kernel.cc:1] a real error: out of memory\n",
    ]
    # when they are written while the probe's lines are held back
    with native_stderr_without(GPU_PROBE_LINES):
        for line in written:
            os.write(2, line)
        sys.stderr.write("python's own stderr\n")
    # then the error and Python's line come out, the probing lines do not
    err = capfd.readouterr().err
    assert "a real error: out of memory" in err
    assert "python's own stderr" in err
    assert "cuInit" not in err
    assert "cudart_stub" not in err


@pytest.mark.slow
@pytest.mark.skipif(NVIDIA_DRIVER.exists(), reason="this machine has an NVIDIA driver")
def test_tensorflow_starts_without_cuinit_errors_on_a_machine_without_a_gpu():
    # when a fresh process sets TensorFlow up as a worker does before loading a model
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from inference.classifier import configure_tensorflow; configure_tensorflow()",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=settings.BASE_DIR,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
    )
    # then it starts, and the GPU probe's cuInit error is not printed
    assert result.returncode == 0, result.stderr
    assert "cuInit" not in result.stderr
