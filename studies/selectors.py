"""Reads of the studies app: a user's studies (scoped to their teams) and their counts."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from studies.models import CaptureSession, SessionStatus, Study


def study_list(*, user: User | AnonymousUser) -> QuerySet[Study]:
    if not user.is_authenticated:
        return Study.objects.none()
    return Study.objects.select_related("campaign__team").filter(
        campaign__team__memberships__user=user
    )


def study_get(*, user: User | AnonymousUser, study_id: int) -> Study:
    """The study if the user's team owns it, else Http404."""
    return get_object_or_404(study_list(user=user), pk=study_id)


def study_public_get(*, slug: str) -> Study:
    """The study its public link names (any status: a paused one says so), else Http404."""
    return get_object_or_404(Study.objects.select_related("campaign__team"), slug=slug)


def study_counts(*, study: Study) -> dict[str, int]:
    """Sessions by outcome, one GROUP BY: started (every consented session), capturing,
    completed, declined, failed, withdrawn, low quality."""
    sessions = CaptureSession.objects.filter(study=study)
    counts = {status: 0 for status in SessionStatus.values}
    for status, n in sessions.values_list("status").annotate(n=Count("id")).order_by():
        counts[status] = n
    counts["low_quality"] = sessions.filter(
        Q(status=SessionStatus.COMPLETED) & Q(low_quality=True)
    ).count()
    # Consented sessions (a decline at the consent question records no consent version).
    counts["started"] = sessions.filter(consent_version__isnull=False).count()
    return counts
