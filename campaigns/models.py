"""The marketing side of the data: who owns what, and what each uploaded photo showed.

Ownership runs Team -> Campaign -> Ad -> UploadBatch -> ReactionImage -> Face; every query a
user can reach is scoped by team through `campaigns.selectors.scoping.scoped_to_user`. A
campaign's Viewers (respondents, with segment attributes) are who the photos and reaction
videos show; a video's sampled frames are ReactionImage rows of kind "frame", each at its
second of the ad.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ml import CLASSES, CONFIDENCE_STEPS
from ml.attentive import QUALITY_MIN, attentive

# Face columns holding the classifier's softmax output, in the canonical class order.
PROB_FIELDS: tuple[str, ...] = tuple(f"prob_{name}" for name in CLASSES)
# A face's pose, eyes, gaze and quality columns: `ml.attention.FaceAttention`'s fields.
ATTENTION_FIELDS: tuple[str, ...] = (
    "yaw",
    "pitch",
    "roll",
    "eye_openness",
    "gaze_x",
    "gaze_y",
    "sharpness",
    "quality",
)


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


class ImageKind(models.TextChoices):
    PHOTO = "photo", "Photo"
    # A frame sampled from a reaction video at `frame_seconds` (no file of its own).
    FRAME = "frame", "Video frame"
    # A video member that could not be used (its row says why; always skipped).
    VIDEO = "video", "Video"


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
    # An image or a video of the ad (a video's frames illustrate its key moments).
    creative = models.FileField(upload_to="creatives/%Y/%m/", blank=True)
    creative_url = models.URLField(blank=True)
    # Length of the ad, for its timeline: offsets past it are dropped at upload, and a
    # video's frames past it are not sampled (campaigns.services.extraction.ad_offset_bound).
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every write of the ad's tallies, in the same transaction: a timeline rollup
    # stamped with another value is out of date (`analytics.services.tallies`).
    tally_generation = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="ad_unique_campaign_name"),
            models.CheckConstraint(
                condition=Q(duration_seconds__isnull=True) | Q(duration_seconds__gt=0),
                name="ad_duration_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Viewer(models.Model):
    """A respondent of a campaign, known by the id the survey or panel tool gave them."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="viewers")
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Marked low quality (a capture session under the quality threshold, see studies/): the
    # dashboards, exports, API and reports leave the viewer's faces out unless asked
    # (`DashboardFilters.with_low_quality`); the timeline rollups never hold them.
    low_quality = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["external_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"], name="viewer_unique_campaign_external_id"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def attribute_dict(self) -> dict[str, str]:
        return {a.name: a.value for a in self.attributes.all()}


class ViewerAttribute(models.Model):
    """One segment value of a viewer (age_band = 25-34, market = DE, ...).

    A table rather than a JSON column: the same b-tree index serves filtering and grouping by
    an attribute on PostgreSQL and SQLite alike (Django's JSON containment lookup, the one a
    GIN index would serve, exists on PostgreSQL only).
    """

    viewer = models.ForeignKey(Viewer, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=100)
    value = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name", "value", "viewer"], name="viewer_attr_name_value")]
        constraints = [
            models.UniqueConstraint(fields=["viewer", "name"], name="viewer_attribute_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


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
    # What the uploader should know that is no member's own reason (manifest rows that name
    # no file, a manifest read as Windows-1252, ...), one sentence each.
    notes = models.JSONField(default=list, blank=True)
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


class ReactionVideo(models.Model):
    """A reaction video of one viewer: its file, and where in the ad its recording starts.

    Its sampled frames are the ReactionImage rows (kind "frame") that are analysed; the
    video itself has no status of its own.
    """

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="videos")
    original_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    file = models.FileField(upload_to="videos/", max_length=300, blank=True)
    viewer = models.ForeignKey(
        Viewer, on_delete=models.SET_NULL, null=True, blank=True, related_name="videos"
    )
    # The second of the ad at which the recording starts (None: the manifest's was unusable).
    offset_seconds = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The stored video was deleted under the retention policy; frames' results remain.
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "original_name"], name="video_unique_batch_member"
            ),
            models.CheckConstraint(
                condition=(Q(offset_seconds__isnull=True) | Q(offset_seconds__gte=0))
                & Q(duration_seconds__gt=0),
                name="video_offset_and_duration_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class ReactionImage(models.Model):
    """One photo, or one sampled frame of a reaction video, from a batch. Every archive
    member that looks like a photo or a video gets a row (a usable video: one per frame)."""

    Status = ImageStatus
    Kind = ImageKind

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="images")
    kind = models.CharField(max_length=8, choices=ImageKind.choices, default=ImageKind.PHOTO)
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
    # When a worker claimed the photo (with claim_token, which claim a result belongs to).
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The claim's last sign of life: its worker refreshes it while analysing; a claim not
    # refreshed for INGEST_CLAIM_TIMEOUT is abandoned (its worker was killed).
    claim_alive_at = models.DateTimeField(null=True, blank=True)
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
    # Who the photo or frame shows, when known (a manifest, or the video's file name).
    viewer = models.ForeignKey(
        Viewer, on_delete=models.SET_NULL, null=True, blank=True, related_name="images"
    )
    # The second of the ad the photo or frame was taken at, when known.
    offset_seconds = models.FloatField(null=True, blank=True)
    # For a frame: its video, and its time within the video (seconds from its start).
    video = models.ForeignKey(
        ReactionVideo, on_delete=models.CASCADE, null=True, blank=True, related_name="frames"
    )
    frame_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["batch", "status"], name="image_batch_status_idx"),
            models.Index(fields=["video", "frame_seconds"], name="image_video_time_idx"),
            # The sweeper's look for abandoned claims, every INGEST_SWEEP_SECONDS: only the
            # photos being analysed are in it.
            models.Index(
                fields=["claim_alive_at"],
                condition=Q(status=ImageStatus.PROCESSING),
                name="image_claim_alive_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=ImageKind.FRAME, video__isnull=False, frame_seconds__gte=0)
                | (~Q(kind=ImageKind.FRAME) & Q(video__isnull=True, frame_seconds__isnull=True)),
                name="image_frame_has_its_video",
            ),
            models.CheckConstraint(
                condition=Q(offset_seconds__isnull=True) | Q(offset_seconds__gte=0),
                name="image_offset_not_negative",
            ),
            models.CheckConstraint(condition=Q(kind__in=ImageKind.values), name="image_kind_valid"),
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
    # Where the face looks and how well it reads (`ml.attention`, docs/marketers/attention.md):
    # head pose in degrees, eye aspect ratio, iris offset in the eye, Laplacian variance and
    # quality in [0, 1]. Null on faces analysed before they were measured.
    yaw = models.FloatField(null=True, blank=True)
    pitch = models.FloatField(null=True, blank=True)
    roll = models.FloatField(null=True, blank=True)
    eye_openness = models.FloatField(null=True, blank=True)
    gaze_x = models.FloatField(null=True, blank=True)
    gaze_y = models.FloatField(null=True, blank=True)
    sharpness = models.FloatField(null=True, blank=True)
    quality = models.FloatField(null=True, blank=True)
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

    @property
    def attentive(self) -> bool | None:
        """Facing the screen with eyes open (`ml.attention`); None when not measured."""
        if self.yaw is None:
            return None
        return attentive(self.yaw, self.pitch, self.eye_openness)

    @property
    def readable(self) -> bool:
        """Whether its expression counts: quality at least QUALITY_MIN, or not measured."""
        return self.quality is None or self.quality >= QUALITY_MIN


# Minimum confidences (percent of the top class probability) the dashboards filter by: the
# tallies below keep counts at each, so any of them is answered without reading faces.
# A tally's `viewer_key` for the faces of no known viewer (viewer ids start at 1).
NO_VIEWER_KEY = 0


def tally_count_field(label: str, step: int) -> str:
    """The tally column of faces labelled `label` whose confidence is at least `step`%."""
    return f"faces_{label}_{step}"


def tally_confidence_field(step: int) -> str:
    """The tally column summing the confidence of the faces at least `step`% confident."""
    return f"confidence_sum_{step}"


class Tally(models.Model):
    """Face counts kept in step with the faces (`analytics.services.tallies`), so dashboards
    and summaries read a few rows per viewer instead of every face: per upload, model
    version and viewer (`viewer_key` 0: faces of no known viewer), each label's faces at
    each confidence step, and their summed confidence."""

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        "inference.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    viewer_key = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"tally of upload {self.batch_id}, viewer {self.viewer_key or 'unknown'}"


for _step in CONFIDENCE_STEPS:
    for _label in CLASSES:
        Tally.add_to_class(tally_count_field(_label, _step), models.IntegerField(default=0))
    Tally.add_to_class(tally_confidence_field(_step), models.FloatField(default=0.0))


class ViewerTally(Tally):
    """Per (upload, model version, viewer): what the verdict, segments, norms and the per-ad
    summaries sum."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "model_version", "viewer_key"], name="viewer_tally_key"
            )
        ]


class SecondTally(Tally):
    """Per (upload, model version, viewer, second of the ad): what the timeline and its key
    moments sum. Only faces of photos and frames with an offset."""

    second = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "model_version", "viewer_key", "second"],
                name="second_tally_key",
            )
        ]


class TimelineRollup(models.Model):
    """One ad's timeline for a model version, a confidence step and a bin width, stored as
    the rows of `analytics.timelines.timeline_pack` (each bin's moments), so the dashboard
    reads a few rows instead of every viewer's every second; for the ad's whole audience
    (`segment_name` empty) or for the viewers of one segment value. Current only while its
    `generation` is the ad's `tally_generation`; rebuilt when an upload finishes."""

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        "inference.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    step = models.PositiveSmallIntegerField()
    width = models.PositiveSmallIntegerField()
    segment_name = models.CharField(max_length=100, blank=True, default="")
    segment_value = models.CharField(max_length=200, blank=True, default="")
    generation = models.BigIntegerField()
    first_bin = models.IntegerField()
    bins = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ad", "model_version", "step", "width", "segment_name", "segment_value"],
                name="timeline_rollup_key",
            )
        ]

    def __str__(self) -> str:
        segment = f", {self.segment_name}={self.segment_value}" if self.segment_name else ""
        return f"timeline of ad {self.ad_id}, {self.step}% confidence, {self.width} s bins{segment}"
