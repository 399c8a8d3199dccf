from __future__ import annotations

from django import forms
from django.conf import settings


class ShareLinkForm(forms.Form):
    label = forms.CharField(
        max_length=100, required=False, help_text="Who the link is for, e.g. 'Brand team'."
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=settings.SHARE_LINK_MAX_DAYS,
        initial=30,
        label="Valid for (days)",
    )
    allow_report = forms.BooleanField(
        required=False, initial=True, label="The PDF report can be downloaded"
    )
    show_photos = forms.BooleanField(
        required=False,
        initial=False,
        label="Show photos of viewers' faces",
        help_text="Off unless you have the viewers' consent to show their faces to this client.",
    )
