"""Corrected shares against a known answer, on labelled real photos.

    python manage.py bench_shares [--manifest DIR/manifest.csv] [--ads-per-fold 200]
        [--photos 100] [--real-path 16]

Runs the whole pipeline once on the labelled photos (as a worker does: largest face per
photo), then draws simulated ads of `--photos` photos with known mixes from each person fold,
corrects them with what the other folds measure, and prints bias, mean absolute error and
95% interval coverage of the positive and negative shares, corrected and as classified
(`analytics.share_checks`), for random and calm mixes.

`--real-path N` then sends N such ads through the real path: the shipped model registered
as a bench version whose measurement leaves the ads' people out, a ZIP of each ad's photos
with a manifest (one viewer per photo, so its largest face is the one counted), a worker,
and the per-ad summary CSV's `positive`, `negative` and their bounds. Everything it creates
(team, uploads, bench version) is deleted at the end.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from analytics import exports
from analytics.selectors.dashboards import DashboardFilters, with_ad_versions
from analytics.share_checks import CHECKED, ShareErrors, check_shares, share_table
from campaigns.management.commands.bench_ingest import worker_log, worker_start
from campaigns.models import BATCH_UNFINISHED, UploadBatch
from campaigns.services import teams
from campaigns.services.batches import batch_create
from ml import CLASSES
from ml.artifact import read_metadata, write_metadata
from ml.measurement import measurement_build
from ml.quantification import GROUP_OF_LABEL
from ml.simulation import MIXES, person_folds, person_of, simulated_ads


class Command(BaseCommand):
    help = "Bias, error and interval coverage of corrected shares on simulated ads of real photos."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--manifest",
            type=Path,
            default=Path(settings.FER_DATA_DIR) / "real-photos-dev" / "manifest.csv",
        )
        parser.add_argument("--model", type=Path, default=Path(settings.SHIPPED_MODEL_DIR))
        parser.add_argument("--ads-per-fold", type=int, default=200)
        parser.add_argument("--photos", type=int, default=100, help="photos per ad")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--seeds", type=int, default=3, help="person splits averaged")
        parser.add_argument(
            "--real-path", type=int, default=0, metavar="N", help="N ads through ZIP and worker"
        )

    def handle(
        self,
        *args,
        manifest: Path,
        model: Path,
        ads_per_fold: int,
        photos: int,
        folds: int,
        seeds: int,
        real_path: int,
        **options,
    ) -> None:
        from inference.classifier import EmotionClassifier
        from inference.evaluate_photos import read_manifest, run_pipeline
        from ml.detection import DEFAULT_DETECTOR

        if not manifest.is_file():
            raise CommandError(f"no labelled photos at {manifest} (set FER_DATA_DIR)")
        rows = read_manifest(manifest)
        classifier = EmotionClassifier.load(model)
        started = time.perf_counter()
        outcomes, _ = run_pipeline(rows, classifier=classifier, detector=DEFAULT_DETECTOR)
        found = np.array([o.probabilities is not None for o in outcomes])
        probabilities = np.stack(
            [o.probabilities if o.probabilities is not None else np.zeros(7) for o in outcomes]
        )
        labels = np.array([CLASSES.index(label) for _, label in rows])
        paths = [path for path, _ in rows]
        people = [person_of(path) for path in paths]
        self.stdout.write(
            f"{classifier.name} on {len(rows)} labelled photos of {manifest.parent.name} "
            f"({found.sum()} with a face, {len(set(people))} people) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        with_face = np.flatnonzero(found)
        for mix in MIXES:
            merged: dict[str, ShareErrors] = {}
            for seed in range(seeds):
                found_here = check_shares(
                    labels=labels[with_face],
                    predicted=probabilities[with_face].argmax(axis=1),
                    people=[people[i] for i in with_face],
                    folds=folds,
                    ads_per_fold=ads_per_fold,
                    photos=photos,
                    mix=mix,
                    seed=seed,
                )
                for method, errors in found_here.items():
                    _merge(merged.setdefault(method, ShareErrors()), errors)
            self.stdout.write(
                f"\n{mix} mixes: ads of {photos} photos, {folds} person folds x {seeds} splits"
            )
            for line in share_table(merged):
                self.stdout.write(line)
        if real_path:
            self._real_path(
                ads=real_path,
                photos=photos,
                model=model,
                labels=labels,
                probabilities=probabilities,
                found=found,
                paths=paths,
                people=people,
            )

    def _real_path(
        self,
        *,
        ads: int,
        photos: int,
        model: Path,
        labels: np.ndarray,
        probabilities: np.ndarray,
        found: np.ndarray,
        paths: list[Path],
        people: list[str],
    ) -> None:
        from inference.models import ModelVersion
        from inference.selectors import model_version_active
        from inference.services import model_version_activate, model_version_register

        # The ads are drawn from one half of the people; the bench version's measurement
        # is of the other half, as a shipped one is of people the viewers are not.
        half = person_folds(paths, 2) == 0
        measurement = measurement_build(
            labels=labels[~half],
            probabilities=probabilities[~half],
            found=found[~half],
            data="bench half",
            people=[p for p, out in zip(people, half, strict=True) if not out],
        )
        previous = model_version_active()
        folder = Path(tempfile.mkdtemp(prefix="bench-shares-"))
        team = teams.team_create(name=f"bench-shares-{time.time():.0f}")
        version = None
        worker = worker_start(
            "prefork", 1, decode_threads=settings.INFERENCE_DECODE_THREADS, batch_wait_ms=20
        )
        try:
            artifact = folder / "artifact"
            shutil.copytree(model, artifact)
            meta = read_metadata(artifact)
            meta.version = f"{meta.version}-bench-half"
            meta.measurement = measurement
            write_metadata(artifact, meta)
            version = model_version_register(source_dir=artifact, activate=True)
            worker.terminate()  # a fresh worker loads the bench version
            worker.wait(timeout=60)
            worker = worker_start(
                "prefork", 1, decode_threads=settings.INFERENCE_DECODE_THREADS, batch_wait_ms=20
            )
            campaign = teams.campaign_create(team=team, name="Simulated ads")
            pool = np.flatnonzero(half & found)
            truths: dict[str, np.ndarray] = {}
            rng = np.random.default_rng(0)
            for number, ad in enumerate(
                simulated_ads(labels[pool], ads=ads, photos=photos, rng=rng)
            ):
                chosen = np.unique(pool[ad.photos])  # a photo twice would be one upload
                row = teams.ad_create(campaign=campaign, name=f"ad {number:02}")
                groups = np.array(GROUP_OF_LABEL)[labels[chosen]]
                truths[row.name] = np.bincount(groups, minlength=3) / len(chosen)
                batch_create(ad=row, upload=File(_zip(chosen, paths)), source_name="ad.zip")
            _wait(team, worker)
            filters = with_ad_versions(
                DashboardFilters(), ad_ids=list(campaign.ads.values_list("pk", flat=True))
            )
            header, table = exports.export_table(level="ads", campaign=campaign, filters=filters)
            text = "".join(exports.csv_lines(header, table, bom=False))
            results = {"corrected": ShareErrors(), "as classified": ShareErrors()}
            for exported in csv.DictReader(io.StringIO(text)):
                truth = truths[exported["ad"]]
                for index, key in enumerate(CHECKED):
                    for method, suffix in (("corrected", ""), ("as classified", "_as_classified")):
                        figures = [
                            float(exported[f"{key}{suffix}{end}"]) for end in exports.BOUND_ENDS
                        ]
                        results[method].add_figures(key, *figures, truth=float(truth[index]))
            self.stdout.write(
                f"\nreal path: {ads} ads (ZIP, worker, per-ad summary CSV), measurement of "
                f"{measurement['with_face']} photos of the other people"
            )
            for line in share_table(results):
                self.stdout.write(line)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            team.delete()
            if previous is not None:
                model_version_activate(model_version=previous)
            if version is not None:
                ModelVersion.objects.filter(pk=version.pk).delete()
            shutil.rmtree(folder, ignore_errors=True)


def _merge(into: ShareErrors, more: ShareErrors) -> None:
    for key in CHECKED:
        into.errors[key] += more.errors[key]
        into.covered[key] += more.covered[key]
    into.outside += more.outside


def _zip(chosen: np.ndarray, paths: list[Path]) -> io.BytesIO:
    """The ad's photos and a manifest giving each its own viewer (its largest face counts)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        lines = ["file,viewer"]
        for index in chosen.tolist():
            name = f"photos/{index:05}{paths[index].suffix.lower()}"
            archive.write(paths[index], name)
            lines.append(f"{name},viewer-{index}")
        archive.writestr("manifest.csv", "\n".join(lines) + "\n")
    buffer.seek(0)
    buffer.name = "ad.zip"
    return buffer


def _wait(team, worker, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    uploads = UploadBatch.objects.filter(ad__campaign__team=team)
    while uploads.filter(status__in=BATCH_UNFINISHED).exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise CommandError(f"the uploads did not finish; see {worker_log()}")
        time.sleep(1)
