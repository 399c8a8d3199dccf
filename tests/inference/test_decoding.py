"""Decoding: every mode to upright RGB, every bad file to its own clear error."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from inference.decoding import ImageDecodeError, decode_image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def gradient_rgb(width: int = 64, height: int = 40) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, axis=1)
    return Image.fromarray(np.stack([x, y, np.full_like(x, 90)], axis=2))


def test_rgb_png_decodes_unchanged():
    # given
    image = gradient_rgb()
    # when
    decoded = decode_image(encode(image, "PNG"))
    # then
    assert decoded.pixels.dtype == np.uint8
    assert (decoded.width, decoded.height) == (64, 40)
    np.testing.assert_array_equal(decoded.pixels, np.asarray(image))


def test_an_iphone_heic_photo_decodes_to_what_it_shows():
    # given a photo saved as HEIC (lossy, as iPhones write it)
    image = gradient_rgb(80, 48)
    data = encode(image, "HEIF", quality=95)
    assert data[4:12] == b"ftypheic"
    # when decoded, then it has its size and, within the codec's loss, its pixels
    decoded = decode_image(data)
    assert (decoded.width, decoded.height) == (80, 48)
    error = np.abs(decoded.pixels.astype(int) - np.asarray(image).astype(int))
    assert error.mean() < 4


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (1, lambda a: a),
        (3, lambda a: np.rot90(a, 2)),
        (6, lambda a: np.rot90(a, -1)),
        (8, lambda a: np.rot90(a, 1)),
        (2, lambda a: a[:, ::-1]),
    ],
)
def test_exif_orientation_is_applied(orientation, expected):
    # given: the stored pixels are what a camera held sideways wrote
    stored = gradient_rgb(60, 30)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "PNG", exif=exif)
    # when
    decoded = decode_image(data)
    # then
    upright = expected(np.asarray(stored))
    assert decoded.pixels.shape == upright.shape
    assert (decoded.width, decoded.height) == (upright.shape[1], upright.shape[0])
    np.testing.assert_array_equal(decoded.pixels, upright)


@pytest.mark.parametrize("mode", ["L", "1", "LA", "RGBA", "P", "CMYK", "I;16", "I"])
def test_every_mode_becomes_rgb_uint8(mode):
    # given
    source = gradient_rgb().convert("RGB")
    if mode == "I;16":
        values = (np.asarray(source.convert("L")).astype(np.uint16) * 257).astype(np.uint16)
        image = Image.fromarray(values)
        assert image.mode == "I;16"
        fmt = "PNG"
    elif mode == "I":
        image = Image.fromarray(np.asarray(source.convert("L")).astype(np.int32) * 256)
        fmt = "TIFF"
    else:
        image = source.convert(mode)
        fmt = "JPEG" if mode == "CMYK" else "PNG"
    # when
    decoded = decode_image(encode(image, fmt))
    # then
    assert decoded.pixels.shape == (40, 64, 3)
    assert decoded.pixels.dtype == np.uint8
    if mode in ("I;16", "I", "L"):
        # high-depth grey is scaled into 0..255, not clipped to white
        gray = np.asarray(source.convert("L")).astype(int)
        assert np.abs(decoded.pixels[:, :, 0].astype(int) - gray).max() <= 1
    if mode == "CMYK":
        assert np.abs(decoded.pixels.astype(int) - np.asarray(source).astype(int)).mean() < 12


def test_transparency_is_shown_on_white():
    # given: a palette image whose background index is transparent, and an RGBA one
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    palette.paste(1, (5, 5, 15, 15))
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgba.paste((200, 30, 30, 255), (5, 5, 15, 15))
    # when
    from_palette = decode_image(encode(palette, "PNG", transparency=0)).pixels
    from_rgba = decode_image(encode(rgba, "PNG")).pixels
    # then
    for pixels in (from_palette, from_rgba):
        assert tuple(pixels[0, 0]) == (255, 255, 255)
        assert tuple(pixels[10, 10]) == (200, 30, 30)


def test_animated_gif_gives_its_first_frame():
    # given
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    # when
    pixels = decode_image(data).pixels
    # then
    assert pixels[8, 8, 0] > 200 and pixels[8, 8, 2] < 50


def test_large_jpeg_may_decode_reduced_but_reports_its_full_size():
    # given
    data = encode(gradient_rgb(2400, 1600), "JPEG", quality=90)
    # when
    decoded = decode_image(data, min_side=400)
    # then
    assert (decoded.width, decoded.height) == (2400, 1600)
    assert min(decoded.pixels.shape[:2]) >= 400
    assert decoded.pixels.shape[1] < 2400
    assert decoded.scale == pytest.approx(decoded.pixels.shape[1] / 2400)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (
            b"\x00\x01 definitely not an image" * 20,
            "not an image file this service can read (JPEG, PNG, HEIC, WebP, TIFF, BMP, GIF)",
        ),
        (b"this is not an image", "not an image file this service can read"),
        (encode(gradient_rgb(400, 300), "JPEG")[:900], "the image file is incomplete"),
        (encode(gradient_rgb(400, 300), "PNG")[:300], "the image file is incomplete"),
    ],
    ids=["empty", "random-bytes", "text", "truncated-jpeg", "truncated-png"],
)
def test_bad_files_raise_a_clear_error(data, message):
    # when / then
    with pytest.raises(ImageDecodeError, match=re.escape(message)):
        decode_image(data)


# What a marketer must never read in a photo's reason: Python reprs, byte strings, exception
# class names, Pillow's own wording.
_INTERNALS = re.compile(r"b'|b\"|\\x|Error|Exception|<|>|\bPIL\b|Pillow|DOS attack|starts with")


@pytest.mark.parametrize(
    "data",
    [
        b"this is not an image",
        b"\x00\x01\x02" * 50,
        encode(gradient_rgb(400, 300), "JPEG")[:900],
        encode(gradient_rgb(400, 300), "PNG")[:300],
        encode(gradient_rgb(400, 300), "PNG")[:40],
        encode(Image.new("L", (20000, 20000)), "PNG", optimize=True),
        b"GIF89a" + b"\x00" * 40,
        b"BM" + b"\xff" * 60,
    ],
    ids=["text", "zeros", "cut-jpeg", "cut-png", "png-header-only", "bomb", "gif-header", "bmp"],
)
def test_every_decode_error_is_a_plain_sentence(data):
    # when a file that is not a usable image is decoded
    with pytest.raises(ImageDecodeError) as raised:
        decode_image(data, max_pixels=50_000_000)
    # then its reason names no internals
    message = str(raised.value)
    assert message and not _INTERNALS.search(message), message


def test_corrupt_jpeg_body_raises_decode_error():
    # given: a valid header followed by garbage in place of the scan data
    data = bytearray(encode(gradient_rgb(200, 200), "JPEG"))
    data[400:] = bytes(range(256)) * ((len(data) - 400) // 256) + bytes((len(data) - 400) % 256)
    # when / then
    with pytest.raises(ImageDecodeError):
        decode_image(bytes(data))


def test_decompression_bomb_is_refused_before_decoding():
    # given: a small file that claims 20000 x 20000 pixels
    data = encode(Image.new("L", (20000, 20000)), "PNG", optimize=True)
    # when / then
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(data, max_pixels=50_000_000)


def test_sources_can_be_paths_and_file_objects(tmp_path):
    # given
    data = encode(gradient_rgb(), "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    # when
    from_path = decode_image(path).pixels
    with path.open("rb") as handle:
        handle.read(10)  # a file object left mid-way, as storages hand them back
        from_file = decode_image(handle).pixels
    # then
    np.testing.assert_array_equal(from_path, from_file)


def test_missing_path_raises_decode_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="could not be read"):
        decode_image(tmp_path / "nope.jpg")
