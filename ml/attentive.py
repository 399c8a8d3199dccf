"""What counts as attentive and as readable: the thresholds and the rule, light to import
(no OpenCV, no interpreter), so that the web process reads them without the face mesh.

Attentive: facing the screen within ATTENTIVE_MAX_YAW and ATTENTIVE_MAX_PITCH degrees, eyes
open (eye aspect ratio at least EYES_OPEN_MIN). Readable: quality at least QUALITY_MIN; the
expression of a face under it is kept but not counted (docs/marketers/attention.md).
"""

from __future__ import annotations

ATTENTIVE_MAX_YAW = 30.0
ATTENTIVE_MAX_PITCH = 25.0
EYES_OPEN_MIN = 0.12
QUALITY_MIN = 0.3


def attentive(yaw: float | None, pitch: float | None, eye_openness: float | None) -> bool:
    """Facing the screen within the tolerance and eyes open; False when not measured."""
    if yaw is None or pitch is None or eye_openness is None:
        return False
    return (
        abs(yaw) <= ATTENTIVE_MAX_YAW
        and abs(pitch) <= ATTENTIVE_MAX_PITCH
        and eye_openness >= EYES_OPEN_MIN
    )
