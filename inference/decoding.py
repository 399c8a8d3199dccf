"""Bytes of an uploaded photo -> an upright RGB uint8 array, or a clear per-image error.

Photos come from phones, scanners and the web: EXIF-rotated JPEGs, iPhones' HEIC, CMYK,
16-bit PNGs, palette images with transparency, animated GIFs, truncated uploads and the odd
bomb. Each of those either decodes to what a person would see or raises `ImageDecodeError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

# HEIC/HEIF (the default format of iPhone cameras) opens through Pillow like any other image.
pillow_heif.register_heif_opener()

# A 48-megapixel phone photo decodes to about 150 MB of RGB; past this a file is refused
# before its pixels are decoded (Pillow's own bomb guard only warns below 2x its limit).
DEFAULT_MAX_PIXELS = 64_000_000

# A photo as a path, its bytes or an open file; or pixels already decoded (a video frame,
# RGB uint8 of shape (height, width, 3)).
ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | np.ndarray

_EXIF_ORIENTATION = 0x0112
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


# What a photo may be, in the words of the per-photo reasons.
READABLE_FORMATS = "JPEG, PNG, HEIC, WebP, TIFF, BMP, GIF"


class ImageDecodeError(ValueError):
    """The file is not an image this service can read (corrupt, truncated, too large...).

    Its message is shown to the uploader next to the photo: a plain sentence, never Python's
    or Pillow's own wording.
    """


@dataclass(frozen=True)
class DecodedImage:
    """Pixels of an upright photo.

    `width` and `height` are the photo's full size after EXIF rotation; `pixels` may be
    smaller when a JPEG was decoded at reduced scale, `scale` = pixels width / width.
    """

    pixels: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> float:
        return int(self.pixels.shape[1]) / self.width


def source_name(source: ImageSource, index: int) -> str:
    """A human name for a source: its path, its file object's name, or its position."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return f"<bytes #{index}>"
    if isinstance(source, np.ndarray):
        return f"<frame #{index}>"
    name = getattr(source, "name", None)
    return str(name) if name else f"<file #{index}>"


def _decoded_pixels(pixels: np.ndarray, *, max_pixels: int) -> DecodedImage:
    """Pixels decoded elsewhere (a video frame): checked, then used as they are."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ImageDecodeError("the video frame is not a colour picture that can be analysed")
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"the video frame is too large to analyse: {width}×{height} pixels, more than the "
            f"limit of {_megapixels(max_pixels)}"
        )
    return DecodedImage(pixels=np.ascontiguousarray(pixels), width=width, height=height)


def read_source(source: ImageSource) -> bytes:
    """All bytes of a path, a bytes object or a readable binary file object."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            reason = (exc.strerror or "unreadable").lower()
            raise ImageDecodeError(f"the file could not be read ({reason})") from exc
    if hasattr(source, "read"):
        if hasattr(source, "seek"):
            # A stream that cannot seek is read from where it stands.
            with contextlib.suppress(OSError, ValueError):
                source.seek(0)
        data = source.read()
        if isinstance(data, str):
            raise ImageDecodeError("the file object is opened in text mode, not binary")
        return bytes(data)
    raise ImageDecodeError(f"cannot read an image from a {type(source).__name__}")


def decode_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
) -> DecodedImage:
    """Decode one photo into an upright RGB uint8 array.

    `min_side`, when given, lets a JPEG decode at 1/2, 1/4 or 1/8 scale as long as its
    shorter side stays at least `min_side`: detection downscales large photos anyway and
    reduced-scale JPEG decoding is several times faster on 12-megapixel photos.
    """
    if isinstance(source, np.ndarray):
        return _decoded_pixels(source, max_pixels=max_pixels)
    data = read_source(source)
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            return _decode_opened(image, max_pixels=max_pixels, min_side=min_side)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(
            f"not an image file this service can read ({READABLE_FORMATS})"
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(
            f"the image is too large to analyse (more than {_megapixels(max_pixels)}); it is "
            "refused as a possible decompression bomb"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        # Pillow reports truncated and corrupt data with these; say which it was.
        message = str(exc)
        if "truncated" in message or isinstance(exc, EOFError):
            raise ImageDecodeError(
                "the image file is incomplete: it was cut off (an interrupted copy or upload?)"
            ) from exc
        raise ImageDecodeError("the image file is damaged and cannot be read") from exc


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.0f} megapixels"


def _decode_opened(image: Image.Image, *, max_pixels: int, min_side: int | None) -> DecodedImage:
    full_width, full_height = image.size
    if full_width <= 0 or full_height <= 0:
        raise ImageDecodeError("the image has no pixels (its size is 0)")
    if full_width * full_height > max_pixels:
        raise ImageDecodeError(
            f"the image is too large to analyse: {full_width}×{full_height} pixels is more "
            f"than the limit of {_megapixels(max_pixels)} (refused as a possible "
            "decompression bomb)"
        )
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF/PNG/WebP: the first frame
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    if min_side and image.format == "JPEG" and min(full_width, full_height) >= 2 * min_side:
        image.draft(image.mode, (min_side, min_side))
    image.load()
    if orientation in (5, 6, 7, 8):
        full_width, full_height = full_height, full_width
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
    return DecodedImage(pixels=_to_rgb(image), width=full_width, height=full_height)


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Every Pillow mode -> RGB uint8, as a viewer would show it."""
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if (mode == "P" and "transparency" in image.info) or mode == "PA":
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        # Transparent pixels hold arbitrary colours: show them on white, as browsers do.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_rgb(image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _high_depth_to_rgb(image: Image.Image) -> np.ndarray:
    """16-bit, 32-bit and float grey -> 8 bits by range, not by clipping at 255."""
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        gray = values / 257.0
    elif values.size and values.min() >= 0.0 and values.max() <= 1.0 and image.mode == "F":
        gray = values * 255.0
    elif values.size and values.min() >= 0.0 and 255.0 < values.max() <= 65535.0:
        gray = values / 257.0  # 16-bit samples that Pillow widened to 32 bits
    elif values.size and (values.min() < 0.0 or values.max() > 255.0):
        low, high = float(values.min()), float(values.max())
        gray = (values - low) * (255.0 / (high - low)) if high > low else values * 0.0
    else:
        gray = values
    gray8 = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(gray8[:, :, None], 3, axis=2)


def pixels_as_jpeg(pixels: np.ndarray, *, quality: int = 85) -> bytes:
    """RGB uint8 pixels (a video frame) as a JPEG."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def photo_as_jpeg(data: bytes, *, quality: int = 90) -> bytes:
    """A photo (any format Pillow opens, HEIC included) as an upright JPEG, for browsers."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageDecodeError("the photo could not be converted to JPEG to show it") from exc
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
