"""How the file store fails, as callers of `default_storage` must tell it apart.

A file that is not there raises `FileNotFoundError` on every backend. The store itself failing
(an S3 bucket that cannot be reached, refuses the credentials or answers 5xx) raises botocore's
errors instead, which are no `OSError`: `STORE_ERRORS` names them, so a caller can retry the
work or say plainly that the store, not the file, is the problem.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

STORE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError)

# What an uploader or a marketer reads when the store failed.
STORE_UNREACHABLE = "the file store could not be reached"


class StoreUnreachable(Exception):
    """A chunk could not read its photos because the store failed; its claims were given
    back and the task is retried (the photos are not failed, and the attempt not counted)."""
