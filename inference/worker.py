"""Per-process set-up of Celery workers: the detector and the active CNN load once per process.

Imported by every worker (fer_site/celery.py lists it in Celery's `imports`), never by the web.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_init, worker_process_init

logger = logging.getLogger(__name__)


@worker_process_init.connect
def _warm_pool_process(**kwargs: Any) -> None:
    """Prefork children: load detector and active CNN once, before the first task."""
    _warm()


@worker_init.connect
def _warm_single_process(sender: Any = None, **kwargs: Any) -> None:
    """Solo and thread pools run tasks in the main process, which has no process-init signal.

    The prefork parent must not load TensorFlow: its children are forked from it.
    """
    pool = getattr(sender, "pool_cls", None)
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    if any(kind in str(name) for kind in ("solo", "thread")):
        _warm()


def _warm() -> None:
    from inference.registry import registry_warm

    try:
        registry_warm()
    except Exception:  # a broken detector install must not stop the worker from reporting it
        logger.exception("could not warm the inference models")
