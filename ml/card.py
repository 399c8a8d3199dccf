"""MODEL_CARD.md, written from the artifact's metadata and evaluation report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml.artifact import CARD_FILE, ArtifactMetadata


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


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
    return (
        f"Input: {meta.input_shape[0]}x{meta.input_shape[1]} grayscale, produced by "
        "`ml.preprocessing.preprocess_faces` with the spec recorded in model.json "
        f"(crop margin {meta.preprocessing.crop_margin} around the detector's face frame, "
        "which is drawn as FER2013 frames its faces)."
    )


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
    """Data, intended use, figures per class, and the known weaknesses and biases."""
    test = reports.get("test") or reports["valid"]
    sizes = meta.training_data.get("sizes", {})
    dups = meta.training_data.get("duplicates", {})
    lines = [
        f"# Model card: {meta.name} {meta.version}",
        "",
        "## What it is",
        *_what_it_is(meta, epochs_run),
        "",
        "## Training data",
        "FER2013 (ICML 2013 representation-learning challenge), official split: trained on "
        f"Training ({sizes.get('train', '?')} images after removing "
        f"{dups.get('dropped_from_train', '?')} exact duplicates of PublicTest/PrivateTest "
        "images), model selected on PublicTest "
        f"({sizes.get('valid', '?')}), reported on PrivateTest ({sizes.get('test', '?')}). "
        "Data fingerprint (sha256 of pixels and labels): "
        f"`{meta.training_data.get('fingerprint', '?')}`.",
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
        + ". Disgust has 1.5% of the training images. Most frequent misreadings: "
        + "; ".join(f"{n} as {_confusions(test, n)}" for n, _ in weakest)
        + ". Dashboard shares of these classes carry the widest uncertainty.",
        "- FER2013 was collected by web image search with emotion keywords: mostly posed or "
        "exaggerated expressions, frontal faces, low resolution (48x48 gray). Real viewer "
        "reactions are subtler, so expect more `neutral` and lower confidence on them.",
        "- Its demographic make-up was never documented; accuracy across age, gender, skin tone "
        "and culture has not been measured for this model and may differ. FER2013's own paper "
        "puts human accuracy on it at about 65%: its labels are noisy.",
        "- Faces must first be found by the detector; missed faces (profile, occlusion, small "
        "faces) are not counted at all.",
        "- Calibration: the probabilities are from a softmax trained with label smoothing; read "
        "the mean confidence on dashboards as a relative, not absolute, figure.",
        "",
    ]
    path = out / CARD_FILE
    path.write_text("\n".join(lines))
    return path
