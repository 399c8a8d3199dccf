"""What campaigns tells the apps that derive figures from its data, without importing them.

campaigns owns the faces, uploads and viewers; analytics keeps counts derived from them (the
tallies and the timeline rollups) and registers its hooks here in its `AppConfig.ready()`,
which Django runs in every process (web, worker, command) before any request or task:

- `faces_replacing`: around the write that replaces photos' faces, inside its transaction,
  so the derived counts commit or roll back with the faces;
- `ads_changed`: after the commit that changed ads' faces, uploads or viewers, so what a hook
  queues reads the committed rows.

A registry rather than Django signals: the faces hook must wrap the write (before and after,
one context manager), which a signal cannot; one plain mechanism serves both, and a failing
hook fails the write instead of being logged and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Protocol

from django.db import transaction


class FacesReplacingHook(Protocol):
    def __call__(
        self, *, image_ids: Sequence[int], model_version_id: int
    ) -> AbstractContextManager[None]: ...


class AdsChangedHook(Protocol):
    def __call__(self, *, ad_ids: Sequence[int]) -> None: ...


_faces_replacing: list[FacesReplacingHook] = []
_ads_changed: list[AdsChangedHook] = []


def faces_replacing_hook_add(hook: FacesReplacingHook) -> None:
    """Run `hook` around every replacement of photos' faces (once, however often added)."""
    if hook not in _faces_replacing:
        _faces_replacing.append(hook)


def ads_changed_hook_add(hook: AdsChangedHook) -> None:
    """Run `hook` after every commit that changed ads' results (once, however often added)."""
    if hook not in _ads_changed:
        _ads_changed.append(hook)


@contextmanager
def faces_replacing(*, image_ids: Sequence[int], model_version_id: int) -> Iterator[None]:
    """Around a write of the faces of `image_ids` for one model version, in one transaction
    with every registered hook."""
    with transaction.atomic(), ExitStack() as hooks:
        for hook in _faces_replacing:
            hooks.enter_context(hook(image_ids=image_ids, model_version_id=model_version_id))
        yield


def ads_changed(*, ad_ids: Sequence[int]) -> None:
    """Once the caller's transaction commits (at once outside one), tell every registered hook
    that these ads' faces, uploads or viewers changed."""
    ids = list(ad_ids)

    def announce() -> None:
        for hook in _ads_changed:
            hook(ad_ids=ids)

    transaction.on_commit(announce)
