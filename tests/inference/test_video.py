"""Reaction videos decoded as a stream: probe, sampling times, frames at chosen times."""

from __future__ import annotations

import io

import numpy as np
import pytest

from inference.video import VideoError, probe_video, read_frames, sample_times
from tests.video_support import video_bytes

BITS = 10


def _grey(t: float) -> np.ndarray:
    """A frame that shows its time (in tenths of a second) as a barcode of 10 black or white
    bars, which lossy coding does not blur into another number."""
    tenths = int(round(t * 10))
    bars = np.array([(tenths >> bit) & 1 for bit in range(BITS)], dtype=np.uint8) * 255
    return np.repeat(np.repeat(bars[None, :, None], 120, axis=0), 16, axis=1).repeat(3, axis=2)


def _time_of(pixels: np.ndarray) -> float:
    bars = pixels[:, :, 0].reshape(pixels.shape[0], BITS, -1).mean(axis=(0, 2)) > 127
    return sum(1 << bit for bit, on in enumerate(bars) if on) / 10


@pytest.mark.parametrize(
    ("container", "codec"), [("mp4", "mpeg4"), ("webm", "libvpx"), ("matroska", "mpeg4")]
)
def test_a_video_is_probed_for_its_duration_and_size(container, codec):
    data = video_bytes(_grey, seconds=4, fps=10, container=container, codec=codec)
    info = probe_video(io.BytesIO(data))
    assert (info.width, info.height) == (160, 120)
    assert info.duration == pytest.approx(4.0, abs=0.15)


def test_sampling_times_cover_the_recording_at_the_rate():
    assert sample_times(20.0, 2) == [k / 2 for k in range(40)]
    assert sample_times(0.3, 2) == [0.0]
    assert sample_times(1.0, 3) == [0.0, 0.333, 0.667]
    with pytest.raises(ValueError, match="sampling rate must be positive"):
        sample_times(5.0, 0)


def test_frames_at_chosen_times_are_the_nearest_decoded_ones():
    # given a 20 s video at 10 frames/s whose brightness says its time
    data = video_bytes(_grey, seconds=20, fps=10)
    # when frames at 2 frames/s of seconds 12-16 are read (a chunk after a seek)
    times = [12.0, 12.5, 13.0, 15.5]
    frames = list(read_frames(io.BytesIO(data), times))
    # then each is the frame of its time (within a frame of the encoding's loss)
    assert [t for t, _ in frames] == times
    assert [_time_of(pixels) for _, pixels in frames] == pytest.approx(times, abs=0.01)


def test_a_variable_frame_rate_is_sampled_by_its_timestamps():
    # given 5 frames/s for a second, 20 frames/s for the next, 5 again for the third
    times = (
        [k / 5 for k in range(5)] + [1 + k / 20 for k in range(20)] + [2 + k / 5 for k in range(5)]
    )
    data = video_bytes(_grey, times=times, fps=20)
    # when sampled at times between its frames
    frames = list(read_frames(io.BytesIO(data), [0.0, 0.45, 1.0, 1.52, 2.0, 2.45]))
    # then each frame is the one nearest its time, not the n-th frame of the file
    expected = [0.0, 0.4, 1.0, 1.5, 2.0, 2.4]
    assert [_time_of(p) for _, p in frames] == pytest.approx(expected, abs=0.01)


def test_frames_are_shrunk_for_detection():
    data = video_bytes(lambda t: np.zeros((720, 1280, 3), np.uint8), seconds=1, fps=5)
    ((_, pixels),) = read_frames(io.BytesIO(data), [0.0], max_side=640)
    assert pixels.shape == (360, 640, 3)


def test_times_past_the_end_are_not_yielded():
    data = video_bytes(_grey, seconds=2, fps=10)
    frames = list(read_frames(io.BytesIO(data), [1.0, 1.9, 5.0]))
    assert [t for t, _ in frames] == [1.0, 1.9]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a readable video"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500, "not a readable video"),
        ("truncated", "not a readable video"),
    ],
)
def test_broken_videos_are_refused_with_a_plain_reason(data, message):
    if data == "truncated":
        whole = video_bytes(_grey, seconds=3, fps=10)
        data = whole[: len(whole) // 3]
    with pytest.raises(VideoError, match=message):
        probe_video(io.BytesIO(data))
