"""Training, evaluation and export of the facial-expression CNN (never imports Django)."""

# The canonical class order, used by datasets, models, artifacts, the database and the dashboards.
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
