"""The face detectors live in `ml.detection`: training aligns its faces with the serving
detector, and `ml` never imports `inference`. Kept only for `campaigns`' `bench_shares`,
which names the default detector from here; delete once it imports `ml.detection`."""

from ml.detection import DEFAULT_DETECTOR as DEFAULT_DETECTOR
