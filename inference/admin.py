"""Admin for model versions: metrics at a glance, activation, ZIP upload.

Uploads go through `inference.artifact_upload` (load + predict before anything is stored);
activation through `inference.services`. Reprocessing uploads with a chosen version belongs
to the ingest workflow: its action is on the campaign and ad admins.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

from inference.artifact_upload import model_version_upload
from inference.models import ModelVersion
from inference.services import model_version_activate, unmeasured_warning
from ml.artifact import CARD_FILE, CONFUSION_FILE, REPORT_FILE, ArtifactError

# The model card's markdown as HTML: CommonMark with tables, raw HTML escaped.
CARD_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


class ArtifactUploadForm(forms.Form):
    archive = forms.FileField(
        label="Artifact ZIP",
        help_text="A ZIP of the artifact folder written by training (model.keras, model.json, "
        "report.json, confusion.png).",
    )
    activate = forms.BooleanField(required=False, label="Make it the active model")
    unmeasured = forms.BooleanField(
        required=False,
        label="Register it without a measurement of its errors on real photos",
        help_text="Only for an artifact whose model.json has no 'measurement' (python -m "
        "inference.cli.measure_errors): its dashboards will show shares as classified, "
        "uncorrected.",
    )


def _metric(model_version: ModelVersion, key: str) -> str:
    value = (model_version.metrics or {}).get(key)
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "—"


def _rate(count: int, total: int) -> str:
    """'46% (210)': a share of a row with the photos it counts."""
    return f"{count / total:.0%} ({count})" if total else "—"


def _real_photo_accuracy(measurement: dict[str, Any]) -> tuple[int, int] | None:
    """(right, photos) of a measurement at confidence step 0; a photo without a face is
    wrong, as in the model card's real-photo figures."""
    matrix = (measurement.get("confusion") or {}).get("0")
    if not matrix or not measurement.get("photos"):
        return None
    return sum(row[index] for index, row in enumerate(matrix)), int(measurement["photos"])


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "is_active",
        "accuracy",
        "macro_f1",
        "real_photo_accuracy",
        "real_photo_recall",
        "created_at",
    )
    list_filter = ("is_active", "name")
    search_fields = ("name", "version")
    # The page shows these only: the raw `metrics` and `measurement` JSON would repeat
    # the tables below.
    fields = readonly_fields = (
        "name",
        "version",
        "is_active",
        "artifact",
        "classes",
        "metrics_table",
        "measurement_report",
        "confusion_matrix",
        "per_class_report",
        "model_card",
        "created_at",
    )
    actions = ["activate"]

    @admin.display(description="FER2013 accuracy")
    def accuracy(self, obj: ModelVersion) -> str:
        return _metric(obj, "accuracy")

    @admin.display(description="FER2013 macro-F1")
    def macro_f1(self, obj: ModelVersion) -> str:
        return _metric(obj, "macro_f1")

    @admin.display(description="Real-photo accuracy")
    def real_photo_accuracy(self, obj: ModelVersion) -> str:
        counts = _real_photo_accuracy(obj.measurement or {})
        if counts is None:
            return "not measured"
        right, photos = counts
        return f"{100 * right / photos:.1f}% ({right}/{photos})"

    @admin.display(description="Real-photo mean recall")
    def real_photo_recall(self, obj: ModelVersion) -> str:
        """The mean of the emotions' recalls on real photos, beside FER2013's macro-F1."""
        recalls = [
            row["recall"]
            for row in ((obj.measurement or {}).get("emotions") or {}).values()
            if isinstance(row.get("recall"), int | float)
        ]
        if not recalls:
            return "not measured"
        return f"{100 * sum(recalls) / len(recalls):.1f}%"

    @admin.display(description="Measured errors on real photos")
    def measurement_report(self, obj: ModelVersion) -> str:
        measurement = obj.measurement or {}
        if not measurement:
            return "Not measured: its dashboards show shares as classified, uncorrected."
        headline = measurement["headline_confusion"]
        groups = headline["groups"]
        rows = headline["rows_true_columns_predicted"]
        emotions = measurement["emotions"]
        pipeline = ", ".join(f"{k} {v}" for k, v in (measurement.get("pipeline") or {}).items())
        return format_html(
            "<p>The whole pipeline ({}) on {} labelled real photos of {} ({} people), a face "
            "found in {}. Rows: what the faces showed; columns: what the pipeline said (share "
            "of the row, photos).</p>"
            "<table><tr><th>true</th>{}<th>photos</th></tr>{}</table>"
            "<table><tr><th>emotion</th><th>photos</th><th>recall</th><th>AUC</th>"
            "<th>measured reliably</th></tr>{}</table>",
            pipeline or "defaults",
            measurement["photos"],
            measurement["data"],
            measurement.get("people", "?"),
            measurement["with_face"],
            format_html_join("", "<th>read {}</th>", ((group,) for group in groups)),
            format_html_join(
                "",
                "<tr><th>{}</th>{}<td>{}</td></tr>",
                (
                    (
                        group,
                        format_html_join("", "<td>{}</td>", ((_rate(n, sum(row)),) for n in row)),
                        sum(row),
                    )
                    for group, row in zip(groups, rows, strict=True)
                ),
            ),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        name,
                        row["photos"],
                        f"{row['recall']:.1%}",
                        "—" if row["auc"] is None else f"{row['auc']:.2f}",
                        "yes" if row["measured"] else f"no: {row.get('reason', '')}",
                    )
                    for name, row in emotions.items()
                ),
            ),
        )

    @admin.display(description="Metrics")
    def metrics_table(self, obj: ModelVersion) -> str:
        metrics = obj.metrics or {}
        if not metrics:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in metrics.items())
            ),
        )

    @admin.display(description="Confusion matrix")
    def confusion_matrix(self, obj: ModelVersion) -> str:
        if not default_storage.exists(obj.artifact + CONFUSION_FILE):
            return "No confusion.png in this artifact."
        url = reverse("admin:inference_modelversion_file", args=[obj.pk, CONFUSION_FILE])
        return format_html('<img src="{}" alt="confusion matrix" style="max-width:560px">', url)

    @admin.display(description="Per-class report")
    def per_class_report(self, obj: ModelVersion) -> str:
        report = self._report(obj)
        per_class = (report or {}).get("per_class")
        if not isinstance(per_class, dict):
            return "No per-class figures in report.json." if report else "No report.json."
        rows = (
            (
                name,
                *(
                    f"{scores.get(k, 0):.3f}" if isinstance(scores.get(k), float) else "—"
                    for k in ("precision", "recall", "f1")
                ),
                scores.get("support", "—"),
            )
            for name, scores in per_class.items()
        )
        return format_html(
            "<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
            "<th>support</th></tr>{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
            ),
        )

    @admin.display(description="Model card")
    def model_card(self, obj: ModelVersion) -> str:
        name = obj.artifact + CARD_FILE
        if not default_storage.exists(name):
            return "—"
        with default_storage.open(name) as fh:
            text = fh.read().decode()
        # Raw HTML in the card is escaped (html off), and unsafe link schemes are refused
        # (tests/inference/test_admin.py renders a card holding a <script>).
        return mark_safe(CARD_MARKDOWN.render(text))  # noqa: S308  markdown-it escapes the HTML

    @staticmethod
    def _report(obj: ModelVersion) -> dict | None:
        name = obj.artifact + REPORT_FILE
        if not default_storage.exists(name):
            return None
        with default_storage.open(name) as fh:
            try:
                report = json.load(fh)
            except ValueError:
                return None
        # Training writes {"test": {...}, ...}; an evaluation writes the report itself.
        return report.get("test", report) if isinstance(report, dict) else None

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Every field is fixed by the artifact; state changes go through the actions.
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/file/<str:filename>",
                self.admin_site.admin_view(self.artifact_file),
                name="inference_modelversion_file",
            ),
            *super().get_urls(),
        ]

    def artifact_file(self, request: HttpRequest, pk: int, filename: str) -> FileResponse:
        """A report image of an artifact, read through default_storage (staff only)."""
        if not self.has_view_permission(request) or filename not in (CONFUSION_FILE,):
            raise Http404
        obj = get_object_or_404(ModelVersion, pk=pk)
        name = obj.artifact + filename
        if not default_storage.exists(name):
            raise Http404
        return FileResponse(default_storage.open(name, "rb"), content_type="image/png")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """Adding a version means uploading its artifact ZIP; it is checked before saving."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ArtifactUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                model_version = model_version_upload(
                    archive=form.cleaned_data["archive"],
                    activate=form.cleaned_data["activate"],
                    allow_unmeasured=form.cleaned_data["unmeasured"],
                )
            except ArtifactError as exc:
                form.add_error("archive", str(exc))
            else:
                self.message_user(
                    request,
                    f"{model_version.name} {model_version.version} registered"
                    + (" and active." if model_version.is_active else "."),
                )
                if not model_version.measurement:
                    self.message_user(
                        request,
                        unmeasured_warning(name=model_version.name, version=model_version.version),
                        messages.WARNING,
                    )
                return HttpResponseRedirect(
                    reverse("admin:inference_modelversion_change", args=[model_version.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload a model artifact",
            "form": form,
        }
        return render(request, "admin/inference/modelversion/upload.html", context)

    def has_activate_permission(self, request: HttpRequest) -> bool:
        """Activating a version changes every team's new results: the change permission."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(
        description="Make the selected model version the active one", permissions=["activate"]
    )
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model version.", messages.ERROR)
            return
        model_version = model_version_activate(model_version=queryset.get())
        self.message_user(request, f"{model_version.name} {model_version.version} is active.")
