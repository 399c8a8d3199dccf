"""An ad's creative checked before it is stored: an image or a video this service can read,
within CREATIVE_MAX_BYTES, CREATIVE_MAX_PIXELS and (a video) AD_MAX_SECONDS.

A video creative's frames are decoded by the web process for the key moments, so a creative
past these bounds would cost every such request its memory (an 8000x8000 MP4 took 670 MiB a
frame); it is refused on upload with the reason, and a stored one past them is not decoded.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from campaigns.archives import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    extension,
    sniff_image_format,
    sniff_video_format,
)
from campaigns.models import Ad
from inference.decoding import pixels_as_jpeg
from inference.video import VideoError, probe_video, read_frames


def creative_refusal(upload: File[Any]) -> str | None:
    """Why `upload` cannot be an ad's creative, in a sentence; None when it can."""
    name = upload.name or "the creative"
    size = upload.size or 0
    if size == 0:
        return f"{name} is empty."
    if size > settings.CREATIVE_MAX_BYTES:
        return (
            f"{name} is {size / 1024**2:,.0f} MiB; a creative may be at most "
            f"{settings.CREATIVE_MAX_BYTES / 1024**2:,.0f} MiB (CREATIVE_MAX_BYTES)."
        )
    upload.seek(0)
    head = upload.read(64)
    upload.seek(0)
    try:
        if sniff_video_format(head) is not None or extension(name) in VIDEO_EXTENSIONS:
            return _video_refusal(upload, name=name, head=head)
        return _image_refusal(upload, name=name, head=head)
    finally:
        upload.seek(0)


def _video_refusal(upload: File[Any], *, name: str, head: bytes) -> str | None:
    if sniff_video_format(head) is None:
        return f"{name} is not a video this service can read (unknown file type)."
    if extension(name) not in VIDEO_EXTENSIONS:
        return (
            f"{name} holds a video: give it a video's extension "
            f"({', '.join(sorted(VIDEO_EXTENSIONS))})."
        )
    source = upload.temporary_file_path() if hasattr(upload, "temporary_file_path") else upload
    try:
        info = probe_video(source, max_pixels=settings.CREATIVE_MAX_PIXELS)
    except VideoError as exc:
        return (
            f"{name}: {exc} (CREATIVE_MAX_PIXELS)." if "pixels" in str(exc) else f"{name}: {exc}."
        )
    if info.duration > settings.AD_MAX_SECONDS:
        return (
            f"{name} lasts {info.duration:,.0f} s; a creative may last at most "
            f"{settings.AD_MAX_SECONDS:,} s (AD_MAX_SECONDS)."
        )
    return None


def _image_refusal(upload: File[Any], *, name: str, head: bytes) -> str | None:
    if sniff_image_format(head) is None or extension(name) not in IMAGE_EXTENSIONS:
        return f"{name} is not an image or a video this service can read."
    try:
        with Image.open(upload) as image:  # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return f"{name} is not an image this service can read (damaged or unknown)."
    if width * height > settings.CREATIVE_MAX_PIXELS:
        return (
            f"{name} is {width}x{height}; a creative may have at most "
            f"{settings.CREATIVE_MAX_PIXELS:,} pixels (CREATIVE_MAX_PIXELS)."
        )
    return None


def ad_creative_is_video(ad: Ad) -> bool:
    return PurePosixPath(ad.creative.name).suffix.lower() in VIDEO_EXTENSIONS


class CreativeFrameMissing(Exception):
    """The ad has no frame at that second: its creative is not a video, cannot be read, or
    is shorter (the message says which)."""


def creative_frame_jpeg(*, ad: Ad, seconds: float, max_side: int = 480) -> bytes:
    """The frame of the ad's video creative at `seconds`, as a JPEG (a key moment's picture,
    on the dashboard and in the report). CreativeFrameMissing when there is none; the file
    store's errors (campaigns.storage.STORE_ERRORS) are the caller's to answer."""
    if not ad.creative or not ad_creative_is_video(ad):
        raise CreativeFrameMissing("This ad's creative is not a video.")
    try:
        with default_storage.open(ad.creative.name, "rb") as handle:
            # A creative stored before creatives were checked may be huge: not decoded.
            frames = list(
                read_frames(
                    handle, [seconds], max_side=max_side, max_pixels=settings.CREATIVE_MAX_PIXELS
                )
            )
    except (OSError, VideoError) as exc:
        raise CreativeFrameMissing("The creative's video cannot be read.") from exc
    if not frames:
        raise CreativeFrameMissing("The creative is shorter than that.")
    return pixels_as_jpeg(frames[0][1])
