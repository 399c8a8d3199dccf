"""Register a model artifact folder (model.json + model.keras, ...) as a ModelVersion."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.services import model_version_register, unmeasured_warning
from ml.artifact import ArtifactError


class Command(BaseCommand):
    help = (
        "Copy a model artifact folder into storage under models/<name>/<version>/ and record "
        "it as a ModelVersion (idempotent). --activate makes it the model that labels new faces."
    )

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("model_dir", nargs="?", type=Path, help="folder holding model.json")
        target.add_argument(
            "--shipped",
            action="store_true",
            help="the model shipped with the code (SHIPPED_MODEL_DIR); skipped if absent",
        )
        parser.add_argument("--activate", action="store_true", help="make it the active model")
        parser.add_argument(
            "--unmeasured",
            action="store_true",
            help="register an artifact without a measurement of its errors on real photos "
            "(python -m inference.cli.measure_errors); its dashboards show shares uncorrected",
        )

    def handle(
        self,
        *args,
        model_dir: Path | None,
        shipped: bool,
        activate: bool,
        unmeasured: bool,
        **options,
    ) -> None:
        if shipped:
            model_dir = Path(settings.SHIPPED_MODEL_DIR)
            if not model_dir.is_dir():
                self.stdout.write(f"No shipped model at {model_dir}; nothing registered.")
                return
        # The required argument group gives either a folder or --shipped.
        assert model_dir is not None  # noqa: S101  narrows the type for mypy
        try:
            model_version = model_version_register(
                source_dir=model_dir, activate=activate, allow_unmeasured=unmeasured
            )
        except ArtifactError as exc:
            raise CommandError(str(exc)) from exc
        if not model_version.measurement:
            self.stderr.write(
                self.style.WARNING(
                    "Warning: "
                    + unmeasured_warning(name=model_version.name, version=model_version.version)
                )
            )
        state = "active" if model_version.is_active else "not active"
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {model_version.name} {model_version.version} "
                f"at {model_version.artifact} ({state})."
            )
        )
