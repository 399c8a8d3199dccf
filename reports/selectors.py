"""Reads of share links: a team's links of a campaign, and the link a request's token names."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet
from django.http import Http404

from campaigns.models import Campaign
from reports.models import ShareLink, token_hash


class ShareLinkGone(Exception):
    """The token names a link that was revoked or has expired (answered with 410)."""

    def __init__(self, link: ShareLink) -> None:
        super().__init__(f"share link {link.prefix}… is no longer valid")
        self.link = link


def share_link_list(*, campaign: Campaign) -> QuerySet[ShareLink]:
    """The campaign's links, newest first (an already team-scoped campaign)."""
    return ShareLink.objects.filter(campaign=campaign).select_related("created_by")


def share_link_get(*, campaign_id: int, token: str) -> ShareLink:
    """The live link of `token` to campaign `campaign_id`. Http404 when no link has that
    token or it is another campaign's (a link shows its own campaign only); ShareLinkGone
    when it was revoked or has expired. Checked on every request."""
    link = (
        ShareLink.objects.select_related("campaign__team")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None or not hmac.compare_digest(str(link.campaign_id), str(campaign_id)):
        raise Http404("No such share link.")
    if not link.is_live:
        raise ShareLinkGone(link)
    return link
