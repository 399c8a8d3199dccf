"""Reaction capture in the browser: a study shows a campaign's ads to consenting viewers while
their webcam frames flow into the campaigns pipeline.

A CaptureSession is one visit of the study's public link that consented (or declined); each
ad it watches is a SessionAd, which owns one UploadBatch of that ad: its frames are the
batch's photos (ReactionImage rows with their offsets), analysed by the same workers, and the
session is the campaign Viewer those photos show. Nothing here is analysed on its own.
"""

from __future__ import annotations

from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from campaigns.models import Ad, Campaign, UploadBatch, Viewer

DEFAULT_CONSENT_TEXT = """\
While you watch a short video, this page records pictures of your face with your camera, \
5 times a second, to measure how people react to the video (smiles, frowns, surprise). \
No sound is recorded.

- The pictures go to {team} only, and are analysed by its own server: no other company sees them.
- Only the results (which expression each picture shows) are kept with your answers; \
the pictures themselves are deleted as {team}'s retention rule says.
- You can stop at any time with "Stop and delete my data": everything recorded of you is \
deleted at once.
- Saying no is fine: you will go back to the survey.
"""


class StudyStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


class AdOrder(models.TextChoices):
    FIXED = "fixed", "Fixed"
    RANDOM = "random", "Random per viewer"


class LowQualityOutcome(models.TextChoices):
    FAILED = "failed", "Send to the failed URL"
    COMPLETE = "complete", "Send to the complete URL"


# Redirects go to a survey or panel on the web: http(s) only (no javascript:, data:, ftp:).
_web_url = URLValidator(schemes=["http", "https"])


class Study(models.Model):
    """What a viewer of the public link sees, and where they go back to."""

    Status = StudyStatus

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="studies")
    name = models.CharField(max_length=200)
    # The public link's key: unguessable, so a study is reached only through its link.
    slug = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=8, choices=StudyStatus.choices, default=StudyStatus.OPEN)
    ads: models.ManyToManyField[Ad, StudyAd] = models.ManyToManyField(
        Ad, through="StudyAd", related_name="studies"
    )
    ad_order = models.CharField(max_length=8, choices=AdOrder.choices, default=AdOrder.FIXED)
    # Seconds an image creative is shown (a video plays to its end).
    image_seconds = models.PositiveSmallIntegerField(default=5)
    capture_fps = models.PositiveSmallIntegerField(default=5)
    consent_text = models.TextField(default=DEFAULT_CONSENT_TEXT)
    # Bumped whenever the text changes: each session records the version it agreed to.
    consent_version = models.PositiveIntegerField(default=1)
    participant_param = models.CharField(max_length=50, default="pid")
    # Redirect URLs may hold {pid}: replaced by the participant id.
    # URL parameters kept as viewer attributes, comma separated.
    kept_params = models.CharField(max_length=500, blank=True)
    complete_url = models.URLField(max_length=1000, blank=True, validators=[_web_url])
    declined_url = models.URLField(max_length=1000, blank=True, validators=[_web_url])
    failed_url = models.URLField(max_length=1000, blank=True, validators=[_web_url])
    low_quality_outcome = models.CharField(
        max_length=8, choices=LowQualityOutcome.choices, default=LowQualityOutcome.FAILED
    )
    # Completed sessions after which the link takes no one new (None: no quota).
    quota = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="study_unique_campaign_name"),
            models.CheckConstraint(
                condition=Q(status__in=StudyStatus.values), name="study_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(capture_fps__gte=1, capture_fps__lte=10), name="study_fps_range"
            ),
            models.CheckConstraint(
                condition=Q(image_seconds__gte=1, image_seconds__lte=120),
                name="study_image_seconds_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kept_param_names(self) -> list[str]:
        return [name.strip() for name in self.kept_params.split(",") if name.strip()]


class StudyAd(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="study_ads")
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "ad"], name="study_ad_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.ad_id} at {self.position} in study {self.study_id}"


class SessionStatus(models.TextChoices):
    CAPTURING = "capturing", "Capturing"
    COMPLETED = "completed", "Completed"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed"
    # "Stop and delete my data": its viewer, frames and results are gone; the row counts it.
    WITHDRAWN = "withdrawn", "Withdrawn"


SESSION_FINISHED: frozenset[str] = frozenset(SessionStatus.values) - {SessionStatus.CAPTURING}


class CaptureSession(models.Model):
    """One viewer's visit after the consent question: who (participant id and kept URL
    parameters), what they agreed to, and how the capture went."""

    Status = SessionStatus

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sessions")
    # sha256 of the token the browser holds: a leaked table cannot write to a session.
    token_hash = models.CharField(max_length=64, unique=True)
    participant_id = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.CAPTURING
    )
    # What happened, in a few words (camera refused, no face, low quality, abandoned...).
    reason = models.CharField(max_length=200, blank=True)
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    # The order this viewer sees the study's ads in (ad ids).
    ad_ids = models.JSONField(default=list)
    viewer = models.ForeignKey(
        Viewer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    camera_checks = models.PositiveSmallIntegerField(default=0)
    low_quality = models.BooleanField(default=False)
    # The figures the quality verdict was made from (see studies.services.quality).
    quality = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "status"], name="session_study_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id or 'session'} #{self.pk} ({self.status})"


class SessionAd(models.Model):
    """One ad a session watched: its frames are the photos of `batch`."""

    session = models.ForeignKey(CaptureSession, on_delete=models.CASCADE, related_name="ads")
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="+")
    batch = models.OneToOneField(
        UploadBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="capture"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Seconds of the ad played, as the browser reported at its end.
    played_seconds = models.FloatField(null=True, blank=True)
    frames_received = models.PositiveIntegerField(default=0)
    # Frames the browser measured as too dark (mean luma under DARK_LUMA).
    frames_dark = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "ad"], name="session_ad_unique"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id}, ad {self.ad_id}"
