"""What ads are ranked and described by: the headlines.

A headline is a combination of the headline groups' shares (positive share; negative share;
valence, positive minus negative) or one emotion's share. It is estimated from a group's
faces with a model version's measured correction (`ml.quantification`), or as classified.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.stats import (
    SHARE_BOUNDS,
    VALENCE_BOUNDS,
    Bounds,
    HeadlineMeasure,
    Measure,
    ScoreMeasure,
)
from ml import CLASSES
from ml.quantification import GROUP_NAMES, HEADLINE_GROUPS, GroupCorrection

POSITIVE_EMOTIONS: tuple[str, ...] = HEADLINE_GROUPS["positive"]
NEGATIVE_EMOTIONS: tuple[str, ...] = HEADLINE_GROUPS["negative"]
OTHER_EMOTIONS: tuple[str, ...] = HEADLINE_GROUPS["other"]


# The labels of a frame in attention's unit counts (`analytics.attention.attention_units`).
ATTENTIVE, INATTENTIVE = "attentive", "inattentive"


def _group(name: str) -> tuple[float, ...]:
    return tuple(1.0 if group == name else 0.0 for group in GROUP_NAMES)


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    # True: higher is better (positive, valence); False: lower is better (negative);
    # None: neither (one emotion: "more surprise" is not better or worse by itself).
    higher_is_better: bool | None
    # Over the headline groups (positive, negative, other); unused for one emotion.
    coefficients: tuple[float, ...] = (0.0, 0.0, 0.0)
    emotion: str | None = None
    bounds: Bounds = SHARE_BOUNDS
    # The attentive share of frames (`analytics.attention`): not an expression, so never
    # corrected for the model's errors and read from the frames, not the face tallies.
    attention: bool = False

    @property
    def is_share(self) -> bool:
        return self.bounds == SHARE_BOUNDS

    def measure(self, correction: GroupCorrection) -> Measure:
        """This headline estimated with `correction` (a model version's, or as classified;
        attention ignores it)."""
        if self.attention:
            return ScoreMeasure({ATTENTIVE: 1.0})
        return HeadlineMeasure(self.coefficients, correction, self.emotion, self.bounds)

    def word(self, difference: float) -> str:
        """How an ad that is `difference` above another is described ('more positive')."""
        if self.key == "valence":
            return "higher in valence" if difference >= 0 else "lower in valence"
        if self.attention:
            return "more attentive" if difference >= 0 else "less attentive"
        if self.key in ("positive", "negative"):
            return f"more {self.key}" if difference >= 0 else f"less {self.key}"
        return f"more {self.label}" if difference >= 0 else f"less {self.label}"


def _headlines() -> dict[str, Headline]:
    headlines = {
        "positive": Headline("positive", "positive", True, _group("positive")),
        "negative": Headline("negative", "negative", False, _group("negative")),
        "valence": Headline(
            "valence",
            "valence (positive minus negative)",
            True,
            (1.0, -1.0, 0.0),
            bounds=VALENCE_BOUNDS,
        ),
    }
    for name in CLASSES:
        headlines[name] = Headline(name, name, None, emotion=name)
    headlines["attention"] = Headline("attention", "attentive share", True, attention=True)
    return headlines


HEADLINES: dict[str, Headline] = _headlines()
# The headline groups as headlines, in `ml.quantification.GROUP_NAMES` order.
GROUP_HEADLINES: tuple[Headline, ...] = (
    HEADLINES["positive"],
    HEADLINES["negative"],
    Headline("other", "neither positive nor negative", None, _group("other")),
)


def headline_get(key: str | None) -> Headline:
    return HEADLINES.get(key or "", HEADLINES["positive"])
