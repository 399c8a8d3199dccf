"""The marketing side of the data: who owns what, and what each uploaded photo showed.

Ownership runs Team -> Campaign -> Ad -> UploadBatch -> ReactionImage -> Face; every query a
user can reach is scoped by team through `campaigns.selectors.scoped_to_user`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ml import CLASSES

# Face columns holding the classifier's softmax output, in the canonical class order.
PROB_FIELDS: tuple[str, ...] = tuple(f"prob_{name}" for name in CLASSES)


class Emotion(models.TextChoices):
    ANGRY = "angry", "Angry"
    DISGUST = "disgust", "Disgust"
    FEAR = "fear", "Fear"
    HAPPY = "happy", "Happy"
    NEUTRAL = "neutral", "Neutral"
    SAD = "sad", "Sad"
    SURPRISE = "surprise", "Surprise"


class TeamRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class BatchStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    EXTRACTING = "extracting", "Extracting"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    PARTIAL = "partial", "Partially done"


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    # Not analysed on purpose (a duplicate of another photo in the batch, not an image, ...);
    # `error` says why.
    SKIPPED = "skipped", "Skipped"


# The one definition of which statuses are final: pages, the sweeper and reprocessing read it.
BATCH_FINISHED: frozenset[str] = frozenset(
    {BatchStatus.DONE, BatchStatus.PARTIAL, BatchStatus.FAILED}
)
BATCH_UNFINISHED: frozenset[str] = frozenset(BatchStatus.values) - BATCH_FINISHED
# Photos a worker still has to analyse (the batch cannot close while one is left).
IMAGE_UNFINISHED: frozenset[str] = frozenset({ImageStatus.PENDING, ImageStatus.PROCESSING})


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    Role = TeamRole

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team"),
            models.CheckConstraint(
                condition=Q(role__in=TeamRole.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Campaign(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    brand = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="campaign_unique_team_name"),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="campaign_ends_after_start",
                violation_error_message="The campaign cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Ad(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ads")
    name = models.CharField(max_length=200)
    creative = models.FileField(upload_to="creatives/%Y/%m/", blank=True)
    creative_url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="ad_unique_campaign_name"),
        ]

    def __str__(self) -> str:
        return self.name


class UploadBatch(models.Model):
    """One uploaded ZIP of reaction photos for one ad; its status changes only through
    `campaigns.services.transitions`."""

    Status = BatchStatus

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="batches")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="upload_batches",
    )
    source_name = models.CharField(max_length=255)
    archive = models.FileField(upload_to="uploads/%Y/%m/%d/", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    images_total = models.PositiveIntegerField(default=0)
    images_processed = models.PositiveIntegerField(default=0)
    images_failed = models.PositiveIntegerField(default=0)
    images_skipped = models.PositiveIntegerField(default=0)
    # Photos already in this ad (same content); also counted in images_skipped.
    images_duplicate = models.PositiveIntegerField(default=0)
    faces_found = models.PositiveIntegerField(default=0)
    # The version this batch's faces are (being) labelled with; set when processing starts.
    model_version = models.ForeignKey(
        "inference.ModelVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="batches",
    )
    # Last sign of life (a chunk claimed or finished); the sweeper resumes batches that stall.
    # None: the batch's next task could not be queued (broker unreachable); the sweeper sends
    # it as soon as it runs.
    progress_at = models.DateTimeField(null=True, blank=True)
    # Deliveries of the extraction task; an archive whose extraction fails or dies every time
    # fails the batch after INGEST_MAX_ATTEMPTS, with the reason.
    extract_attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "upload batches"
        indexes = [models.Index(fields=["ad", "status"], name="batch_ad_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="batch_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in BATCH_FINISHED


class ReactionImage(models.Model):
    """One photo from a batch. Every archive member that looks like a photo gets a row."""

    Status = ImageStatus

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="images")
    original_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    file = models.FileField(upload_to="reactions/%Y/%m/%d/", max_length=300, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # Set on a skipped row whose content is already in the ad: the row it repeats.
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    # When a worker claimed the photo; a claim older than the task time limit is abandoned.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The id of the chunk task holding the claim: a redelivery of that same task (its worker
    # process was killed) takes its photos back at once instead of waiting for them to expire.
    claim_token = models.CharField(max_length=64, blank=True)
    # Claims of this photo for the current analysis; a photo whose worker dies every time
    # (killed, out of memory, past the time limit) fails after INGEST_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The stored photo was deleted under the retention policy; boxes and results remain.
    photo_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["batch", "status"], name="image_batch_status_idx")]
        constraints = [
            # Re-extracting the same archive is idempotent: one row per archive member.
            models.UniqueConstraint(
                fields=["batch", "original_name"], name="image_unique_batch_member"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ImageStatus.values), name="image_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class Face(models.Model):
    """One detected face with its expression: box in original-image pixels, 7 probabilities."""

    image = models.ForeignKey(ReactionImage, on_delete=models.CASCADE, related_name="faces")
    x = models.PositiveIntegerField()
    y = models.PositiveIntegerField()
    w = models.PositiveIntegerField()
    h = models.PositiveIntegerField()
    detector_score = models.FloatField()
    label = models.CharField(max_length=16, choices=Emotion.choices)
    prob_angry = models.FloatField()
    prob_disgust = models.FloatField()
    prob_fear = models.FloatField()
    prob_happy = models.FloatField()
    prob_neutral = models.FloatField()
    prob_sad = models.FloatField()
    prob_surprise = models.FloatField()
    model_version = models.ForeignKey(
        "inference.ModelVersion", on_delete=models.PROTECT, related_name="faces"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "id"]
        indexes = [
            models.Index(fields=["label"], name="face_label_idx"),
            models.Index(fields=["model_version", "label"], name="face_model_label_idx"),
            models.Index(fields=["image", "label"], name="face_image_label_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(label__in=Emotion.values), name="face_label_valid"),
            models.CheckConstraint(condition=Q(w__gt=0) & Q(h__gt=0), name="face_box_not_empty"),
            models.CheckConstraint(
                condition=Q(
                    *[Q(**{f"{f}__gte": 0.0}) & Q(**{f"{f}__lte": 1.0}) for f in PROB_FIELDS]
                ),
                name="face_probabilities_in_unit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} face on {self.image_id}"

    @property
    def probabilities(self) -> dict[str, float]:
        """Class name -> probability, in the canonical order."""
        return {name: getattr(self, f"prob_{name}") for name in CLASSES}
