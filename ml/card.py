"""MODEL_CARD.md, written from the artifact's metadata and evaluation report.

Training writes the card with the FER2013 reports; evaluations run later on the whole pipeline
(real photos, the fairness breakdown) are stored in report.json beside them, and the card is
rebuilt from the folder's files so that every figure in it comes from report.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml.artifact import CARD_FILE, REPORT_FILE, ArtifactMetadata, epochs_in_history, read_metadata

# report.json keys of the evaluations stored after training (the FER2013 splits are the others).
REAL_PHOTOS_KEY = "real_photos"
FAIRNESS_KEY = "fairness"
CALIBRATION_KEY = "calibration"
EVALUATION_KEYS = (REAL_PHOTOS_KEY, FAIRNESS_KEY, CALIBRATION_KEY)
LONDON_SET_CREDIT = "DeBruine, L., & Jones, B. (2017). Face Research Lab London Set"
DIFFUSIONFER_CREDIT = (
    "DiffusionFER small set (FER-Universe/DiffusionFER): synthetic faces made with Stable "
    "Diffusion, no real people, CC0 1.0"
)
# Classes and groups smaller than this get a caveat: their 95% intervals span tens of points.
FEW = 30


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _share(hits: int, total: int) -> str:
    """'53.1% (560/1054)': a share with the counts it is made of."""
    return f"{_pct(hits / total if total else 0.0)} ({hits}/{total})"


def _interval(bounds: Sequence[float]) -> str:
    return f"{100 * bounds[0]:.1f}-{100 * bounds[1]:.1f}%"


def _confusions(report: dict[str, Any], name: str, top: int = 2) -> str:
    """'sad (24%), surprise (14%)': where the true class `name` is most often misread."""
    classes = report["confusion_matrix"]["classes"]
    row = report["confusion_matrix"]["rows_true_cols_predicted"][classes.index(name)]
    total = max(sum(row), 1)
    others = sorted(
        ((count, other) for other, count in zip(classes, row, strict=True) if other != name),
        reverse=True,
    )[:top]
    return ", ".join(f"{other} ({_pct(count / total)})" for count, other in others)


def _input_sentence(meta: ArtifactMetadata) -> str:
    aligned = (
        " Each face is first turned upright by its eye line (the eyes BlazeFace finds), in "
        "training and in serving alike (`ml.preprocessing.cut_face`)."
        if meta.preprocessing.align
        else ""
    )
    return (
        f"Input: {meta.input_shape[0]}x{meta.input_shape[1]} grayscale, produced by "
        "`ml.preprocessing.preprocess_faces` with the spec recorded in model.json "
        f"(crop margin {meta.preprocessing.crop_margin} around the detector's face frame, "
        f"which is drawn as FER2013 frames its faces).{aligned}"
    )


def _extra_training_lines(meta: ArtifactMetadata) -> list[str]:
    """The photo folders mixed into the training split, with their counts and credits."""
    lines = []
    for folder, counts in (meta.training_data.get("extra_train") or {}).items():
        credit = f" ({DIFFUSIONFER_CREDIT})" if "diffusionfer" in folder.lower() else ""
        classes = ", ".join(f"{name} {count}" for name, count in counts["classes"].items())
        lines.append(
            f"- Also in the training split: `{Path(folder).name}`{credit}: {counts['photos']} "
            f"photos through the serving path (detected, framed, aligned, cropped; "
            f"{counts['no_face']} without a face left out), each as {counts['variants']} gray "
            f"conversion(s) of its colours: {counts['images']} images ({classes})."
        )
    return lines


def _distilled_from(config: dict[str, Any]) -> str:
    """', distilled from X (teacher weight 0.5)' for a network trained with a teacher."""
    if not config.get("teacher"):
        return ""
    return f", distilled from {config['teacher']} (teacher weight {config.get('teacher_weight')})"


def _what_it_is(meta: ArtifactMetadata, epochs_run: int | None) -> list[str]:
    """The network, or for an ensemble its members, and how each was trained."""
    classes = ", ".join(meta.classes)
    members = meta.config.get("members")
    if not members:
        warm = meta.config.get("init_from")
        return [
            f"A {meta.config.get('name', '?')} convolutional network (Keras) that classifies a "
            f"face crop into one of seven expressions: {classes}. {_input_sentence(meta)} "
            f"Seed {meta.seed}; {epochs_run if epochs_run is not None else '?'} epochs run"
            + (f", warm-started from the weights of {warm}" if warm else "")
            + _distilled_from(meta.config)
            + "."
        ]
    mirrored = " and over its mirror image" if meta.config.get("flip") else ""
    lines = [
        f"An ensemble of {len(members)} convolutional networks (Keras) that classifies a face "
        f"crop into one of seven expressions: {classes}. Its probabilities are the mean of the "
        f"members' probabilities over the face{mirrored}, computed inside one model.keras, so "
        f"it costs {len(members) * (2 if mirrored else 1)} network passes per face. "
        f"{_input_sentence(meta)} The members, each trained on the same Training images "
        "and selected on PublicTest:",
        "",
    ]
    for member in members:
        warm = member.get("init_from")
        alone = member.get("test_accuracy")
        lines.append(
            f"- {member['model']}: {member.get('network')}, seed {member.get('seed')}, "
            f"{member.get('epochs') or '?'} epochs"
            + (f", warm-started from {warm}" if warm else " from scratch")
            + _distilled_from(member)
            + (f"; alone {_pct(alone)} on PrivateTest." if alone is not None else ".")
        )
    return lines


def write_model_card(
    out: Path, meta: ArtifactMetadata, reports: dict[str, dict[str, Any]], *, epochs_run: int | None
) -> Path:
    """Data, intended use, figures per class, and the known weaknesses and biases; then the
    whole-pipeline evaluations (real photos, fairness) where `reports` holds them."""
    test = reports.get("test") or reports["valid"]
    sizes = meta.training_data.get("sizes", {})
    dups = meta.training_data.get("duplicates", {})
    extra = sum(c["images"] for c in (meta.training_data.get("extra_train") or {}).values())
    fer_train = sizes["train"] - extra if "train" in sizes else "?"
    train_counts = (meta.training_data.get("splits") or {}).get("train") or {}
    disgust_share = (
        _pct(train_counts["disgust"] / sum(train_counts.values()))
        if train_counts.get("disgust")
        else "about 1.5%"
    )
    lines = [
        f"# Model card: {meta.name} {meta.version}",
        "",
        "## What it is",
        *_what_it_is(meta, epochs_run),
        "",
        "## Training data",
        "FER2013 (ICML 2013 representation-learning challenge), official split: trained on "
        f"Training ({fer_train} images after removing "
        f"{dups.get('dropped_from_train', '?')} exact duplicates of PublicTest/PrivateTest "
        "images" + (f"; {extra} more from the photo folders below" if extra else "") + "), "
        "model selected on PublicTest "
        f"({sizes.get('valid', '?')}), reported on PrivateTest ({sizes.get('test', '?')}). "
        "Data fingerprint (sha256 of pixels and labels): "
        f"`{meta.training_data.get('fingerprint', '?')}`.",
        *_extra_training_lines(meta),
        "",
        "## Intended use",
        "Aggregate audience reactions to an ad or campaign: shares of expressions across many "
        "faces, with confidence intervals. It is NOT for decisions about individuals (hiring, "
        "security, health, credit, eligibility), not for inferring a person's inner state, and "
        "not for identifying anyone. An expression is not an emotion: a posed or polite smile "
        "reads as happy.",
        "",
        "## Results on PrivateTest (3,589 faces)",
        f"- Accuracy {_pct(test['accuracy'])}, macro-F1 {_pct(test['macro_f1'])}, weighted-F1 "
        f"{_pct(test['weighted_f1'])}, expected calibration error {test['ece']:.3f}.",
    ]
    if "test_tta" in reports:
        lines.append(
            f"- With test-time augmentation (flips and shifted crops, 10 views): accuracy "
            f"{_pct(reports['test_tta']['accuracy'])}, macro-F1 "
            f"{_pct(reports['test_tta']['macro_f1'])}. The service runs without it."
        )
    if "valid" in reports:
        lines.append(
            f"- PublicTest (model selection): accuracy {_pct(reports['valid']['accuracy'])}."
        )
    lines += [
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for name, scores in test["per_class"].items():
        lines.append(
            f"| {name} | {_pct(scores['precision'])} | {_pct(scores['recall'])} | "
            f"{_pct(scores['f1'])} | {scores['support']} |"
        )
    weakest = sorted(test["per_class"].items(), key=lambda item: item[1]["f1"])[:3]
    lines += [
        "",
        "Confusion matrix: `confusion.png`; full figures: `report.json`.",
        "",
        "## Weaknesses and biases",
        "- Weakest classes here: "
        + ", ".join(f"{n} (F1 {_pct(s['f1'])})" for n, s in weakest)
        + f". Disgust has {disgust_share} of the training images. Most frequent misreadings: "
        + "; ".join(f"{n} as {_confusions(test, n)}" for n, _ in weakest)
        + ". Dashboard shares of these classes carry the widest uncertainty.",
        "- FER2013 was collected by web image search with emotion keywords: mostly posed or "
        "exaggerated expressions, frontal faces, low resolution (48x48 gray). Real viewer "
        "reactions are subtler, so expect more `neutral` and lower confidence on them.",
        "- Its demographic make-up was never documented. Accuracy across age, gender and "
        "ethnicity is measured only for neutral versus happy on a set of 102 consenting adults "
        "(see Fairness, when this card has that section); for the other expressions, and "
        "across cultures, it has not been measured and may differ. FER2013's own paper "
        "puts human accuracy on it at about 65%: its labels are noisy.",
        "- Faces must first be found by the detector; missed faces (profile, occlusion, small "
        "faces) are not counted at all.",
        "- Calibration: the probabilities are from a softmax trained with label smoothing"
        + (
            ", recalibrated for real photos (see Calibration)"
            if not meta.calibration.is_identity
            else ""
        )
        + "; read the mean confidence on dashboards as a relative, not absolute, figure.",
        "",
    ]
    if CALIBRATION_KEY in reports:
        lines += _calibration_lines(reports[CALIBRATION_KEY])
    if REAL_PHOTOS_KEY in reports:
        lines += _real_photos_lines(
            reports[REAL_PHOTOS_KEY], calibrated_on_them=CALIBRATION_KEY in reports
        )
    if meta.measurement:
        lines += _measurement_lines(meta.measurement, name=f"{meta.name} {meta.version}")
    if FAIRNESS_KEY in reports:
        lines += _fairness_lines(reports[FAIRNESS_KEY])
    path = out / CARD_FILE
    path.write_text("\n".join(lines))
    return path


def _real_photo_systems(section: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(system, report) pairs, ours first: the section is evaluate_photos' JSON or our report."""
    if "reports" not in section:
        return [("ours", section)]
    systems = list(section["reports"].items())
    return sorted(systems, key=lambda item: not item[0].startswith("ours"))


def _real_photos_lines(section: dict[str, Any], *, calibrated_on_them: bool = False) -> list[str]:
    """Whole-pipeline figures on labelled real photos, ours beside the peer's, with counts;
    `calibrated_on_them` when the model's calibration was fitted on these same photos."""
    systems = _real_photo_systems(section)
    ours = systems[0][1]
    manifest = section.get("manifest")
    source = f" ({Path(manifest).parent.name})" if manifest else ""
    detector = f" with {section['detector']}" if section.get("detector") else ""
    lines = [
        "## Real photos",
        f"The whole pipeline (decode, detect{detector}, frame, classify) on {ours['photos']} "
        f"labelled real photographs{source} of one person each, faces in their scene: the "
        "largest face found is scored, and a photo where no face is found counts as wrong "
        "(it lowers its class's recall and the accuracy, not any class's precision). 95% "
        "intervals: Wilson for shares, a bootstrap over photos for macro-F1; photos/s on the "
        "machine that measured it.",
        "",
        "| system | photos | face found | accuracy | 95% CI | macro-F1 | 95% CI | photos/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, report in systems:
        speed = report.get("photos_per_second")
        lines.append(
            f"| {name} | {report['photos']} | {_share(report['with_face'], report['photos'])} | "
            f"{_share(report['correct'], report['photos'])} | "
            f"{_interval(report['accuracy_ci95'])} | {_pct(report['macro_f1'])} | "
            f"{_interval(report['macro_f1_ci95'])} | "
            f"{f'{speed:.1f}' if speed is not None else '-'} |"
        )
    short = [name.split()[0] for name, _ in systems]
    lines += [
        "",
        "Per class: recall = found and right / photos of the class; precision = right / photos "
        "read as the class.",
        "",
        "| class | photos | "
        + " | ".join(f"{s} recall | 95% CI | {s} precision" for s in short)
        + " |",
        "|---|---|" + "---|---|---|" * len(systems),
    ]
    for name, row in ours["per_class"].items():
        cells = []
        for _, report in systems:
            scores = report["per_class"][name]
            cells += [
                _share(scores["correct"], scores["support"]),
                _interval(scores["recall_ci95"]),
                _share(scores["correct"], scores["predicted"]),
            ]
        lines.append(f"| {name} | {row['support']} | " + " | ".join(cells) + " |")
    small = [(name, row) for name, row in ours["per_class"].items() if row["support"] < FEW]
    lines += [
        "",
        "- The labels of such web photo sets are noisy: expect 10-20% of them to be wrong. Part "
        "of what reads as a miss here is a wrong label, so compare systems on the same photos "
        "rather than read these figures as absolute.",
    ]
    lines += [
        f"- {name} has only {row['support']} photo{'s' if row['support'] != 1 else ''}: its "
        f"recall ({_interval(row['recall_ci95'])}) says next to nothing."
        if row["support"]
        else f"- {name} has no photos here: its recall is unmeasured."
        for name, row in small
    ]
    if calibrated_on_them:
        lines.append(
            "- The served calibration was fitted on these same photos, which flatters ours "
            "here: the out-of-fold figures under Calibration are the ones to expect on other "
            "photos."
        )
    lines += [
        "- Accuracy weighs the classes as this set mixes them (the photos column), not as an "
        "audience would show them.",
        "",
    ]
    return lines


def _measurement_lines(measurement: dict[str, Any], *, name: str) -> list[str]:
    """model.json's measurement (`ml.measurement`): the headline errors as rates with their
    counts, each emotion's recall and AUC and whether it is measured reliably, and what the
    dashboards do with them."""
    headline = measurement["headline_confusion"]
    groups = headline["groups"]
    floors = measurement["floors"]
    pipeline = measurement.get("pipeline") or {}
    settings = ", ".join(f"{key} {value}" for key, value in pipeline.items() if key != "face")
    people = f", {measurement['people']} people" if "people" in measurement else ""
    lines = [
        "## Measured errors on real photos",
        f"The whole pipeline as a worker runs it ({settings or 'its defaults'}; the largest face "
        f"of each photo) on {measurement['photos']} labelled real photos of "
        f"`{measurement['data']}`{people}: a face was found in {measurement['with_face']}, and "
        "only those count below (a dashboard never sees the others). Rows are what the faces "
        "showed, grouped as the dashboards group them (positive = happy; negative = angry, "
        "disgust, fear, sad; other = neutral, surprise), columns what the pipeline said: the "
        "share of the row, with its photos.",
        "",
        "| true \\ read as | " + " | ".join(groups) + " | photos |",
        "|---|" + "---|" * (len(groups) + 1),
    ]
    for group, row in zip(groups, headline["rows_true_columns_predicted"], strict=True):
        total = sum(row)
        lines.append(
            f"| {group} | " + " | ".join(_share(count, total) for count in row) + f" | {total} |"
        )
    lines += [
        "",
        f"Per emotion: recall = its photos given its label; AUC = how well its probability ranks "
        f"its photos above the others (0.5: not at all). An emotion is measured reliably with "
        f"at least {floors['photos']:.0f} photos, recall {_pct(floors['recall'])} and AUC "
        f"{floors['auc']:.2f}.",
        "",
        "| emotion | photos | recall | AUC | measured reliably |",
        "|---|---|---|---|---|",
    ]
    for emotion, row in measurement["emotions"].items():
        auc = f"{row['auc']:.2f}" if row["auc"] is not None else "-"
        state = "yes" if row["measured"] else f"no: {row['reason']}"
        lines.append(f"| {emotion} | {row['photos']} | {_pct(row['recall'])} | {auc} | {state} |")
    unmeasured = [e for e, row in measurement["emotions"].items() if not row["measured"]]
    lines += [
        "",
        "What the dashboards do with it:",
        "",
        "- They correct the positive, negative and other shares by adjusted classify-and-count: "
        "an ad's label counts are weighted by the inverse of these errors (measured at each "
        "confidence step, the 7 x 7 confusion per step in model.json), so an audience is "
        "reported at the shares that, read with these errors, would give the labels seen. "
        "Their intervals add the uncertainty of this measurement (its photos are few) to the "
        "viewers' own.",
        "- An emotion not measured reliably "
        + (f"({', '.join(unmeasured)}) " if unmeasured else "")
        + f'is shown as "not measured reliably by {name}" in charts, tables, exports and '
        "the API, never as a measured share or a 0%: on real faces the model's reading of it "
        "carries too little to report.",
        "- The correction holds for viewers like these photos (faces in their scene, mostly "
        "frontal); the labels of such web sets are noisy (10-20% wrong), and part of what "
        "reads as an error here is a wrong label.",
        "",
    ]
    return lines


def _calibration_fit(section: dict[str, Any], *, purpose: str = "") -> str:
    """The sentence that gives a fitted calibration: its temperature, offsets and method."""
    offsets = ", ".join(
        f"{name} {value:+.1f}" for name, value in section["log_prior_offsets"].items()
    )
    return (
        f"The served probabilities are softmax(log p / T + b): temperature T "
        f"{section['temperature']:.2f} and log-prior offsets b ({offsets}), fitted on the "
        f"{section['fitted_on_photos']} real-photos-dev photos with a face{purpose} "
        f"({section['method']}). "
    )


def _share_calibration_lines(section: dict[str, Any]) -> list[str]:
    """A calibration fitted for corrected shares: its offsets, and the headline-level error
    before and out of fold after, per mix of simulated ads."""
    public = section["public_test"]
    lines = [
        "## Calibration",
        _calibration_fit(section, purpose=" for the error of corrected headline shares")
        + f"PublicTest accuracy {_pct(public['uncalibrated_accuracy'])} before, "
        f"{_pct(public['calibrated_accuracy'])} after (the FER2013 figures above include the "
        "calibration).",
        "",
        f"Simulated ads of {section['photos_per_ad']} photos, {section['ads_per_fold']} from "
        f"each of {section['folds']} person-disjoint folds ({section['people']} people); each "
        "fold's ads are corrected by the errors measured on the other folds and, calibrated, "
        "labelled by a calibration fitted without them. Error = estimated minus true share, "
        "in points; the score is the mean absolute error of the positive and negative shares, "
        "averaged.",
        "",
        "| mix of ads | labels | score, corrected | positive bias, MAE | negative bias, MAE "
        "| score as classified |",
        "|---|---|---|---|---|---|",
    ]
    for mix, kinds in section["shares"].items():
        for kind, label in (("uncalibrated", "uncalibrated"), ("cross_validated", "calibrated")):
            row = kinds[kind]
            corrected = row["corrected"]
            lines.append(
                f"| {mix} | {label} | {corrected['score']:.1f} | "
                + " | ".join(
                    f"{corrected[name]['bias']:+.1f}, {corrected[name]['mean_absolute_error']:.1f}"
                    for name in ("positive", "negative")
                )
                + f" | {row['as_classified']['score']:.1f} |"
            )
    lines.append("")
    return lines


def _calibration_lines(section: dict[str, Any]) -> list[str]:
    """The fitted temperature and offsets, and recall per class before and out-of-fold after."""
    if section.get("objective") == "shares":
        return _share_calibration_lines(section)
    photos = section["real_photos"]
    before, after = photos["uncalibrated"], photos["cross_validated"]
    public = section["public_test"]
    lines = [
        "## Calibration",
        _calibration_fit(section)
        + f"The figures after calibration are out-of-fold ({section['folds']}-fold "
        "cross-validation: each photo scored by offsets fitted without it); photos without a "
        "face stay wrong. PublicTest accuracy "
        f"{_pct(public['uncalibrated_accuracy'])} before, {_pct(public['calibrated_accuracy'])} "
        "after (the FER2013 figures above include the calibration).",
        "",
        f"- Real photos: accuracy {_share(before['correct'], before['photos'])} -> "
        f"{_share(after['correct'], after['photos'])}, macro-F1 {_pct(before['macro_f1'])} -> "
        f"{_pct(after['macro_f1'])}.",
        "",
        "| class | photos | recall uncalibrated | recall calibrated (out-of-fold) |",
        "|---|---|---|---|",
    ]
    for name, row in before["per_class"].items():
        calibrated = after["per_class"][name]
        lines.append(
            f"| {name} | {row['support']} | {_share(row['correct'], row['support'])} | "
            f"{_share(calibrated['correct'], calibrated['support'])} |"
        )
    lines.append("")
    return lines


def _fairness_lines(section: dict[str, Any]) -> list[str]:
    """Neutral versus happy by gender, ethnicity and age band, with counts and the credit."""
    overall = section["overall"]
    detector = f" (detector {section['detector']})" if section.get("detector") else ""
    bands = ", ".join(section.get("age_bands", []))
    lines = [
        "## Fairness (London Face Research Lab set)",
        f"Neutral versus happy on the Face Research Lab London Set: {overall['people']} adults "
        f"photographed frontally under studio light, once neutral and once smiling "
        f"({overall['photos']} photos), through the whole pipeline{detector}. A photo is right "
        "when its largest face's probability of its true class (neutral or happy) is higher "
        "than of the other of the two; a photo where no face is found counts as wrong. Faces "
        f"found: {_share(overall['with_face'], overall['photos'])}. Accuracy with Wilson 95% "
        "intervals" + (f"; age bands {bands} (unknown: no age recorded)" if bands else "") + ".",
        "",
        "| group | people | photos | faces found | right | accuracy | 95% CI | neutral right "
        "| happy right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("all", overall)] + [
        (f"{facet.replace('_', ' ')}: {group}", scores)
        for facet, groups in section["breakdown"].items()
        for group, scores in groups.items()
    ]
    for label, scores in rows:
        per_expression = " | ".join(
            "{correct}/{photos}".format(**scores["by_expression"][name])
            for name in ("neutral", "happy")
        )
        lines.append(
            f"| {label} | {scores['people']} | {scores['photos']} | {scores['with_face']} | "
            f"{scores['correct']} | {_pct(scores['accuracy'])} | "
            f"{_interval(scores['accuracy_ci95'])} | {per_expression} |"
        )
    small = [label for label, scores in rows if scores["people"] < FEW]
    lines += [
        "",
        "- Only the easiest pair of expressions, posed, on frontal studio-lit faces: this shows "
        "whether reading a smile holds across these groups, not how the seven-class figures "
        "do.",
    ]
    lines += _widest_gaps(section["breakdown"])
    if small:
        lines.append(
            f"- Groups of fewer than {FEW} people ({', '.join(small)}) have wide intervals: a "
            "gap between them and the rest is unmeasured, not absent."
        )
    lines += [f"- Data: {LONDON_SET_CREDIT} (CC BY 4.0).", ""]
    return lines


def _widest_gaps(breakdown: dict[str, dict[str, Any]]) -> list[str]:
    """Per demographic facet, the best against the worst group of at least FEW people."""
    lines = []
    for facet, groups in breakdown.items():
        large = [(name, s) for name, s in groups.items() if s["people"] >= FEW]
        if facet == "expression" or len(large) < 2:
            continue
        best = max(large, key=lambda item: item[1]["accuracy"])
        worst = min(large, key=lambda item: item[1]["accuracy"])
        apart = (
            best[1]["accuracy_ci95"][0] > worst[1]["accuracy_ci95"][1]
            or worst[1]["accuracy_ci95"][0] > best[1]["accuracy_ci95"][1]
        )
        lines.append(
            f"- By {facet.replace('_', ' ')}: {worst[0]} {_pct(worst[1]['accuracy'])} "
            f"({_interval(worst[1]['accuracy_ci95'])}) against {best[0]} "
            f"{_pct(best[1]['accuracy'])} ({_interval(best[1]['accuracy_ci95'])}); the intervals "
            + ("do not overlap" if apart else "overlap")
            + "; smiles read right: "
            + " against ".join(
                "{correct}/{photos}".format(**scores["by_expression"]["happy"])
                for _, scores in (worst, best)
            )
            + "."
        )
    return lines


def _epochs_run(model_dir: Path) -> int | None:
    """Epochs the training run recorded: history.csv, else the number its card states (model.json
    does not hold it, and a shipped artifact may come without history.csv)."""
    epochs = epochs_in_history(model_dir)
    card = model_dir / CARD_FILE
    if epochs is None and card.is_file():
        stated = re.search(r"; (\d+) epochs run", card.read_text())
        epochs = int(stated.group(1)) if stated else None
    return epochs


def rebuild_model_card(model_dir: Path) -> Path:
    """MODEL_CARD.md written again from the folder's model.json and report.json."""
    reports = json.loads((model_dir / REPORT_FILE).read_text())
    return write_model_card(
        model_dir, read_metadata(model_dir), reports, epochs_run=_epochs_run(model_dir)
    )


def record_evaluation(model_dir: Path, *, key: str, section: dict[str, Any]) -> Path:
    """Store an evaluation of the whole pipeline in the artifact's report.json under `key`
    ("real_photos" or "fairness") and rebuild its card; the FER2013 reports stay as trained."""
    if key not in EVALUATION_KEYS:
        raise ValueError(f"{key!r} is not one of the evaluations a card shows: {EVALUATION_KEYS}")
    path = model_dir / REPORT_FILE
    reports = json.loads(path.read_text())
    reports[key] = section
    path.write_text(json.dumps(reports, indent=2) + "\n")
    return rebuild_model_card(model_dir)
