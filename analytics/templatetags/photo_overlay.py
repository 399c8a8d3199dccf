"""Where a face's label goes on a photo, in the photo's own pixels (the overlay's viewBox).

The overlay is scaled with the photo as the page shows it, so a label sized as a fraction of
the photo's width reads the same on a 400-pixel scan and on a 48-megapixel phone photo.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template

from analytics.charts import EMOTION_COLOURS
from campaigns.models import Face

register = template.Library()

# Label height as a share of the photo's width: about 23 px on the page's 640 px frame, 12 px
# on a phone.
LABEL_SIZE = 0.036
# Average glyph width of the label font, in font sizes (to keep a label inside the photo).
_GLYPH_WIDTH = 0.6


@dataclass(frozen=True)
class FaceLabel:
    """A face's number and emotion, where to draw them (baseline start) and in which colour."""

    text: str
    x: str
    y: str
    size: str
    outline: str
    colour: str
    # Drawn inside the box's top edge: no room above it (a face that fills the photo).
    inside: bool


def _number(value: float) -> str:
    """A coordinate as SVG wants it, whatever the site's locale formats numbers as."""
    return f"{value:.1f}"


@register.simple_tag
def face_label(face: Face, number: int, width: int, height: int) -> FaceLabel:
    """The label "#number emotion" of `face` on a `width` x `height` photo: above its box, or
    inside the box's top edge when the box reaches the top of the photo; never past its
    right edge."""
    size = max(1.0, LABEL_SIZE * width)
    text = f"#{number} {face.label}"
    gap = 0.25 * size
    inside = face.y < size + gap
    x = face.x + gap if inside else face.x
    y = face.y + size if inside else face.y - gap
    x = max(0.0, min(x, width - _GLYPH_WIDTH * size * len(text)))
    y = min(y, height - gap)
    return FaceLabel(
        text=text,
        x=_number(x),
        y=_number(y),
        size=_number(size),
        outline=_number(0.18 * size),
        colour=EMOTION_COLOURS.get(face.label, "#2f5bea"),
        inside=inside,
    )
