"""A fake webcam for Chromium: a .y4m file (`--use-file-for-fake-video-capture`), which
Chromium serves to getUserMedia from its first frame each time the camera opens, looping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np


def y4m_write(
    path: Path, frame_at: Callable[[float], np.ndarray], *, seconds: float, fps: int
) -> Path:
    """Write a YUV4MPEG2 file whose frame at time t is `frame_at(t)` (RGB, even sides)."""
    first = frame_at(0.0)
    height, width = first.shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for k in range(int(round(seconds * fps))):
            rgb = np.ascontiguousarray(frame_at(k / fps)[:, :, :3], dtype=np.uint8)
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def chromium_camera_args(camera: Path | None, *, allow: bool = True) -> list[str]:
    """Chromium's flags for a fake camera fed from `camera`; `allow=False` leaves the
    permission to the (headless: refusing) prompt."""
    args = ["--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream"]
    if allow:
        args.append("--use-fake-ui-for-media-stream")
    if camera is not None:
        args.append(f"--use-file-for-fake-video-capture={camera}")
    return args
