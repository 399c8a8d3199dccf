"""A large teacher network trained with PyTorch on a lent GPU, to be distilled on CPU into
the served `cpu-small` networks (`ml.cli.train --teacher <teacher_probabilities.npz>`).

The command line: `python -m ml.cli.gpu_teacher`.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

WEIGHTS_STEM = "teacher"
META_FILE = "teacher.json"
PROBABILITIES_FILE = "teacher_probabilities.npz"
# The device gives back files of at most 16 MiB; weights are written in parts below that.
PART_BYTES = 15 * 1024 * 1024
# Splits whose probabilities the teacher writes when the faces file holds them.
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class TeacherConfig:
    """The network and its training (stored in teacher.json and with the weights)."""

    widths: tuple[int, ...] = (64, 128, 256, 512)
    blocks_per_stage: int = 2
    dropout: float = 0.3
    batch_size: int = 256
    learning_rate: float = 0.1  # SGD with Nesterov momentum, cosine after a 1-epoch warm-up
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    max_epochs: int = 300
    minutes: float = 8.0  # training stops before this budget runs out
    rotation_deg: float = 15.0
    zoom: float = 0.15
    shift: float = 0.1
    erase_prob: float = 0.5
    lighting_prob: float = 0.5
    noise_prob: float = 0.2
    mixed_precision: bool = True  # bfloat16 autocast on CUDA

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeacherConfig:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        if "widths" in known:
            known["widths"] = tuple(known["widths"])
        return cls(**known)


def build_network(config: TeacherConfig, classes: int, channels: int = 1) -> Any:
    """A ResNet for 48x48 faces: a stride-1 stem, stages of basic residual blocks that halve
    the resolution after the first, global average pooling and a linear head. Takes uint8-
    range pixels, as the Keras models do."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, width_in: int, width: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(width_in, width, 3, stride, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, 1, 1, bias=False),
                nn.BatchNorm2d(width),
            )
            self.skip: nn.Module = nn.Identity()
            if stride != 1 or width_in != width:
                self.skip = nn.Sequential(
                    nn.Conv2d(width_in, width, 1, stride, bias=False), nn.BatchNorm2d(width)
                )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.body(x) + self.skip(x))

    class Teacher(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            first = config.widths[0]
            layers: list[nn.Module] = [
                nn.Conv2d(channels, first, 3, 1, 1, bias=False),
                nn.BatchNorm2d(first),
                nn.ReLU(inplace=True),
            ]
            width_in = first
            for stage, width in enumerate(config.widths):
                for block in range(config.blocks_per_stage):
                    stride = 2 if stage > 0 and block == 0 else 1
                    layers.append(Block(width_in, width, stride))
                    width_in = width
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Dropout(config.dropout),
                nn.Linear(width_in, classes),
            )

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            """Logits for a (N, C, H, W) batch of 0-255 pixels."""
            return self.head(self.features(pixels / 127.5 - 1.0))

    return Teacher()


# --- faces ---------------------------------------------------------------------------------


@dataclass
class Faces:
    """What `ml.teacher_faces` packed: uint8 (N, S, S, C) images and labels per split."""

    classes: list[str]
    fingerprint: str
    preprocessing: dict[str, Any]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]


def encode_images(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lossless WebP of each uint8 (S, S, C) image, concatenated, and the offsets between
    them: two thirds of the raw size, which lets the training faces and the repository fit
    the 64 MiB that travels to the device (zlib saves 6%)."""
    import cv2

    encoded = []
    for image in images:
        ok, data = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 101])
        if not ok:
            raise ValueError("WebP encoding failed")
        encoded.append(data.reshape(-1))
    offsets = np.cumsum([0] + [len(data) for data in encoded]).astype(np.int64)
    blob = np.concatenate(encoded) if encoded else np.zeros(0, np.uint8)
    return blob, offsets


def decode_images(blob: np.ndarray, offsets: np.ndarray, channels: int) -> np.ndarray:
    import cv2

    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    images = []
    for start, end in itertools.pairwise(offsets):
        image = cv2.imdecode(blob[start:end], flag)
        if image is None:
            raise ValueError(f"packed face at byte {start} does not decode")
        images.append(image.reshape(image.shape[0], image.shape[1], channels))
    return np.stack(images)


def load_faces(path: Path, required: tuple[str, ...] = ("train", "valid")) -> Faces:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        channels = int(meta["preprocessing"]["channels"])
        images = {
            split: decode_images(data[f"{split}_webp"], data[f"{split}_offsets"], channels)
            for split in SPLITS
            if f"{split}_webp" in data
        }
        labels = {split: data[f"{split}_labels"] for split in images}
    for split in required:
        if split not in images:
            raise ValueError(f"{path} has no {split} faces: pack it with ml.teacher_faces")
    return Faces(meta["classes"], meta["fingerprint"], meta["preprocessing"], images, labels)


def _to_tensor(images: np.ndarray, device: Any) -> Any:
    """uint8 NHWC on the host -> uint8 NCHW on the device (augmented there, in float)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(device)


def augment(batch: Any, config: TeacherConfig, generator: Any) -> Any:
    """Random flips, rotation, zoom and shift (one affine warp), lighting, noise and erased
    patches, all on the device: float (N, C, H, W) pixels in 0-255 in and out."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = batch.shape
    dev = batch.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=dev) * 2 - 1

    angle = uniform(n) * math.radians(config.rotation_deg)
    scale = 1.0 + uniform(n) * config.zoom
    flip = torch.where(torch.rand(n, generator=generator, device=dev) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(n) * config.shift * 2], dim=1),
            torch.stack([sin * flip, cos, uniform(n) * config.shift * 2], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(
        batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False
    )

    lit = torch.rand(n, 1, 1, 1, generator=generator, device=dev) < config.lighting_prob
    gamma = torch.exp(uniform(n, 1, 1, 1) * math.log(1.4))
    contrast = 1.0 + 0.3 * uniform(n, 1, 1, 1)
    brightness = 25.0 * uniform(n, 1, 1, 1)
    relit = 255.0 * (out / 255.0).clamp(0, 1) ** gamma
    mean = relit.mean(dim=(1, 2, 3), keepdim=True)
    relit = ((relit - mean) * contrast + mean + brightness).clamp(0, 255)
    out = torch.where(lit, relit, out)

    noisy = torch.rand(n, 1, 1, 1, generator=generator, device=dev) < config.noise_prob
    noise = torch.randn(out.shape, generator=generator, device=dev) * 8.0
    out = torch.where(noisy, (out + noise).clamp(0, 255), out)

    # One erased rectangle (up to a sixth of the face) filled with noise, on erase_prob of them.
    erased = torch.rand(n, generator=generator, device=dev) < config.erase_prob
    side = (torch.rand(n, 2, generator=generator, device=dev) * 0.3 + 0.1) * torch.tensor(
        [h, w], device=dev
    )
    corner = torch.rand(n, 2, generator=generator, device=dev) * (
        torch.tensor([h, w], device=dev) - side
    )
    rows = torch.arange(h, device=dev).view(1, h, 1)
    cols = torch.arange(w, device=dev).view(1, 1, w)
    inside = (
        (rows >= corner[:, 0].view(n, 1, 1))
        & (rows < (corner[:, 0] + side[:, 0]).view(n, 1, 1))
        & (cols >= corner[:, 1].view(n, 1, 1))
        & (cols < (corner[:, 1] + side[:, 1]).view(n, 1, 1))
        & erased.view(n, 1, 1)
    ).unsqueeze(1)
    fill = torch.rand(out.shape, generator=generator, device=dev) * 255.0
    return torch.where(inside, fill, out)


# --- weights on disk -----------------------------------------------------------------------


def save_weights(model: Any, out: Path, epoch: int, part_bytes: int = PART_BYTES) -> list[str]:
    """Float16 weights in parts of at most `part_bytes` (teacher-eNNN.pt.0, .1, ...), each
    written whole; returns their names for teacher.json (`record_checkpoint`)."""
    import torch

    buffer = io.BytesIO()
    state = {key: value.detach().to("cpu") for key, value in model.state_dict().items()}
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, buffer)
    data = buffer.getvalue()
    names = []
    for index, start in enumerate(range(0, len(data), part_bytes)):
        path = out / f"{WEIGHTS_STEM}-e{epoch:03d}.pt.{index}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data[start : start + part_bytes])
        tmp.replace(path)
        names.append(path.name)
    return names


def record_checkpoint(out: Path, meta: dict[str, Any]) -> None:
    """teacher.json, then the weight parts it no longer names go: a run cut at any moment
    leaves teacher.json naming a complete set of parts."""
    write_json(out / META_FILE, meta)
    for stale in out.glob(f"{WEIGHTS_STEM}-e*.pt.*"):
        if stale.name not in meta["weight_files"]:
            stale.unlink()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Written whole or not at all (a run may be cut at any moment)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def load_teacher(folder: Path, device: Any = "cpu") -> tuple[Any, dict[str, Any]]:
    """The network and teacher.json that `train_teacher` wrote, in float32 and eval mode."""
    import torch

    meta = json.loads((folder / META_FILE).read_text())
    config = TeacherConfig.from_dict(meta["config"])
    data = b"".join((folder / name).read_bytes() for name in meta["weight_files"])
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model = build_network(config, len(meta["classes"]), meta["preprocessing"]["channels"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.to(device).eval(), meta


# --- training and prediction ---------------------------------------------------------------


def pick_device(name: str) -> Any:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def predict(model: Any, images: np.ndarray, device: Any, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities averaged over each face and its mirror image (training flips
    faces at random, so a distillation target must not depend on the side)."""
    import torch

    model.eval()
    chunks = []
    autocast = device.type == "cuda"
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=autocast):
        for start in range(0, len(images), batch_size):
            batch = _to_tensor(images[start : start + batch_size], device).float()
            logits = model(batch).float()
            mirrored = model(torch.flip(batch, dims=[3])).float()
            probs = (torch.softmax(logits, 1) + torch.softmax(mirrored, 1)) / 2
            chunks.append(probs.cpu().numpy())
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(1) == labels).mean()) if len(labels) else float("nan")


def train_teacher(
    faces: Faces,
    config: TeacherConfig,
    out: Path,
    *,
    seed: int = 1,
    device_name: str = "auto",
    steps_per_epoch: int | None = None,
    part_bytes: int = PART_BYTES,
) -> dict[str, Any]:
    """Train until max_epochs or the time budget, whichever comes first; the best PublicTest
    checkpoint is on disk after every epoch that improves it. Returns teacher.json's content.

    The first epoch warms the rate up linearly; the cosine decay that follows is fitted to the
    epochs the budget leaves, timed on the first two, so a short budget still ends annealed."""
    import torch
    import torch.nn.functional as F

    started = time.monotonic()
    budget = config.minutes * 60
    torch.manual_seed(seed)
    device = pick_device(device_name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)

    train_x = _to_tensor(faces.images["train"], device)
    train_y = torch.from_numpy(faces.labels["train"].astype(np.int64)).to(device)
    channels = train_x.shape[1]
    model = build_network(config, len(faces.classes), channels).to(device)
    # Channels-last suits the GPU's tensor cores; on CPU (tests) PyTorch 2.13-2.14 crashed
    # in its backward pass on this machine.
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.learning_rate,
        momentum=0.9,
        nesterov=True,
        weight_decay=config.weight_decay,
    )
    steps = steps_per_epoch or max(1, len(train_y) // config.batch_size)
    autocast = config.mixed_precision and device.type == "cuda"
    parameters = sum(p.numel() for p in model.parameters())
    logger.info("teacher: %d parameters on %s, %d steps per epoch", parameters, device, steps)

    planned = config.max_epochs
    history: list[dict[str, float]] = []
    best, best_epoch, weight_files = -1.0, 0, []
    meta: dict[str, Any] = {}
    for epoch in range(config.max_epochs):
        epoch_started = time.monotonic()
        model.train()
        order = torch.randperm(len(train_y), generator=generator, device=device)
        for step in range(steps):
            if epoch == 0:
                rate = config.learning_rate * (step + 1) / steps
            else:
                progress = min(1.0, (epoch - 1 + step / steps) / max(1, planned - 1))
                rate = config.learning_rate * (
                    0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))
                )
            for group in optimizer.param_groups:
                group["lr"] = rate
            index = order[(step * config.batch_size) % len(order) :][: config.batch_size]
            batch = augment(train_x[index].float(), config, generator)
            batch = batch.contiguous(memory_format=memory_format)
            with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
                logits = model(batch)
            loss = F.cross_entropy(
                logits.float(), train_y[index], label_smoothing=config.label_smoothing
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        last_loss = float(loss.detach())
        valid_accuracy = accuracy(
            predict(model, faces.images["valid"], device), faces.labels["valid"]
        )
        elapsed = time.monotonic() - started
        epoch_seconds = time.monotonic() - epoch_started
        history.append(
            {
                "epoch": epoch + 1,
                "valid_accuracy": valid_accuracy,
                "last_loss": last_loss,
                "seconds": epoch_seconds,
            }
        )
        logger.info(
            "epoch %d/%d: PublicTest %.4f, loss %.3f, %.1f s",
            epoch + 1,
            planned,
            valid_accuracy,
            last_loss,
            epoch_seconds,
        )
        if epoch < 2:
            # Planned on the latest epoch's time (the first also pays for warm-up), leaving
            # room for the final predictions: about two epochs' worth of passes.
            affordable = int((budget - elapsed - 2 * epoch_seconds) / max(epoch_seconds, 1e-6))
            planned = max(2, min(config.max_epochs, epoch + 1 + affordable))
            logger.info("budget %.1f min: planning %d epochs", config.minutes, planned)
        if valid_accuracy > best:
            best, best_epoch = valid_accuracy, epoch + 1
            weight_files = save_weights(model, out, best_epoch, part_bytes)
        meta = {
            "classes": faces.classes,
            "fingerprint": faces.fingerprint,
            "preprocessing": faces.preprocessing,
            "config": asdict(config),
            "seed": seed,
            "parameters": parameters,
            "device": str(torch.cuda.get_device_name(device) if device.type == "cuda" else device),
            "epochs_planned": planned,
            "epochs_done": epoch + 1,
            "best_epoch": best_epoch,
            "best_valid_accuracy": best,
            "weight_files": weight_files,
            "training_seconds": round(elapsed, 1),
            "history": history,
        }
        record_checkpoint(out, meta)
        if epoch + 1 >= planned:
            break
    return meta


def write_probabilities(
    teacher: Path, faces: Faces, out: Path, device_name: str = "auto"
) -> dict[str, float]:
    """The teacher's probabilities on every packed split, with what they belong to; returns
    its accuracy on each split that has labels."""
    device = pick_device(device_name)
    model, meta = load_teacher(teacher, device)
    if meta["fingerprint"] != faces.fingerprint or meta["classes"] != faces.classes:
        raise ValueError(
            f"teacher {teacher} was trained on other faces (fingerprint {meta['fingerprint']}) "
            f"than {faces.fingerprint}"
        )
    arrays: dict[str, np.ndarray] = {}
    accuracies = {}
    for split, images in faces.images.items():
        arrays[split] = predict(model, images, device)
        accuracies[split] = accuracy(arrays[split], faces.labels[split])
    described = {
        "classes": faces.classes,
        "fingerprint": faces.fingerprint,
        "preprocessing": faces.preprocessing,
        "teacher": f"gpu-teacher resnet {list(meta['config']['widths'])}, "
        f"{meta['epochs_done']} epochs on {meta['device']}, best epoch {meta['best_epoch']}",
        "accuracy": accuracies,
    }
    tmp = out.with_name(out.name + ".tmp.npz")
    arrays["meta"] = np.array(json.dumps(described))
    np.savez(tmp, allow_pickle=False, **arrays)
    tmp.replace(out)
    return accuracies
