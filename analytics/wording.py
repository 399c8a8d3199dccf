"""The sentences a marketer reads: the verdict, each ad's comparison with the best, the key
moments and the notes on how the figures were counted and read. Worded here, from figures
the selectors computed, so the dashboard, the API and the exports say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence

from analytics.headlines import Headline
from analytics.stats import Estimate

NO_FACES_YET = "No faces yet."


def points(value: float) -> str:
    """A share or a difference as whole percentage points ('12')."""
    return f"{100 * value:.0f}"


def clock(seconds: float) -> str:
    """A second of the ad as minutes and seconds ('1:05')."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _positive_interval(d: Estimate) -> tuple[float, float]:
    """The interval of a difference said as a positive size ('less negative'), flipped with it."""
    low, high = d.interval.low, d.interval.high
    return (-high, -low) if d.value < 0 else (low, high)


def difference_words(headline: Headline, first: str, second: str, d: Estimate) -> str:
    """'A is 12 points more positive than B (95% CI 4 to 20)' for `d`, first minus second."""
    low, high = _positive_interval(d)
    return (
        f"{first} is {points(abs(d.value))} points {headline.word(d.value)} than {second} "
        f"(95% CI {points(low)} to {points(high)})"
    )


def behind_best_sentence(
    headline: Headline, best: str, other: str, d: Estimate, *, clear: bool
) -> str:
    """How an ad stands against the best ad, and whether the test calls the gap clear."""
    verdict = "a clear difference" if clear else "not a clear difference (it may be noise)"
    return f"{difference_words(headline, best, other, d)}: {verdict}."


def too_few_sentence(*, unit_name: str, units: int) -> str:
    """Why an ad is shown but not ranked."""
    return f"Too few {unit_name} ({units}) to rank: shown, not compared."


def verdict_summary(
    headline: Headline, *, ranked: Sequence[str], gap: Estimate | None, close: Sequence[str]
) -> str:
    """The verdict in one sentence. `ranked`: the ranked ads' names, best first; `gap`: the
    best minus the runner-up; `close`: the ranked ads within noise of the best, it first."""
    if not ranked:
        return "No ad has enough viewers yet to rank."
    best = ranked[0]
    if len(ranked) == 1:
        return f"Only {best} has enough viewers to rank so far."
    assert gap is not None  # noqa: S101  narrows the type for mypy
    direction = "highest" if headline.higher_is_better is None else "best"
    gap_words = difference_words(headline, best, ranked[1], gap)
    if len(close) == 1:
        if headline.higher_is_better is None:
            lead = f"{best} shows the most {headline.label}"
        else:
            lead = f"{best} is the {direction} ad on {headline.key}"
        return f"{lead}: {gap_words}."
    return (
        f"No ad is clearly {direction} on {headline.label}: "
        f"{', '.join(close)} are within noise of each other ({gap_words})."
    )


def unit_note(*, viewers: int, singles: int) -> str:
    """What one unit of every interval and test is, for faces of `viewers` known viewers and
    `singles` faces of no known viewer."""
    if viewers and not singles:
        return (
            "Each viewer counts as one unit in every interval and test, however many faces "
            "(photos, video frames) show them."
        )
    if viewers:
        return (
            "Each known viewer counts as one unit in every interval and test; the "
            f"{singles:,} faces of no known viewer count as one unit each."
        )
    return (
        "No viewer is known for these faces, so each face counts as one unit: several photos "
        "of one person make the intervals narrower than they should be. Upload a manifest "
        "(or reaction videos) to count viewers."
    )


def key_moment_sentence(
    headline: Headline, *, second_from: float, second_to: float, change: Estimate
) -> str:
    """'0:10-0:15: the positive share rises by 12 points from the seconds before (95% CI ...)'."""
    verb = "rises" if change.value > 0 else "falls"
    low, high = _positive_interval(change)
    return (
        f"{clock(second_from)}-{clock(second_to)}: the {headline.key} share "
        f"{verb} by {points(abs(change.value))} points from the seconds before (95% CI "
        f"{points(low)} to {points(high)})"
    )


# How the shares are read (`analytics.selectors.dashboards.Reading.note`).
AS_CLASSIFIED_ASKED = "Shares as classified."
AS_CLASSIFIED_SEVERAL_VERSIONS = "Shares as classified: several model versions."


def as_classified_unmeasured(model_name: str) -> str:
    """Why a model version's shares are shown as classified when correction was asked for."""
    return (
        f"Shares as classified: {model_name} has no measurement of its errors on real photos "
        "to correct them with."
    )
