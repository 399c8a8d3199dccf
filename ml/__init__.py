"""Training, evaluation and export of the facial-expression CNN (never imports Django)."""

from pathlib import Path
from typing import Any, TypeAlias

# The canonical class order, used by datasets, models, artifacts, the database and the dashboards.
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# Minimum confidences (percent) at which dashboards count faces, and at which a model's errors
# on real photos are measured (`ml.measurement`): one list for both.
CONFIDENCE_STEPS: tuple[int, ...] = (0, 40, 50, 60, 70, 80, 90)

# The artifact the project ships: the one place its version is named (settings, the inference
# CLIs and the tests read it from here).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "models" / "fer-cnn-1.6"

# Keras and TensorFlow ship no type information: their objects are typed with these aliases.
KerasModel: TypeAlias = Any
TFLiteInterpreter: TypeAlias = Any
