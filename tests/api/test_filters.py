"""The API's query parameters read into the same filters as the dashboard's page."""

from __future__ import annotations

import pytest

from analytics.forms import DashboardFilterForm
from api.filters import ResultsQuerySerializer, request_filters
from tests import factories


@pytest.mark.django_db
def test_the_api_and_the_dashboard_read_one_query_into_the_same_filters():
    # given a query with every filter, its segment among the campaign's viewers
    version = factories.model_version_create()
    query = {
        "date_from": "2027-01-01",
        "date_to": "2027-02-01",
        "min_confidence": "70",
        "model_version": str(version.pk),
        "segment": "market=DE",
        "shares": "classified",
        "headline": "negative",
        "breakdown": "market",
        "with_low_quality": "true",
    }
    # when the API's serializer and the dashboard's form each read it
    found = request_filters(query=query, serializer=ResultsQuerySerializer)
    form = DashboardFilterForm(query, segments={"market": ["DE"]})
    assert form.is_valid(), form.errors
    # then they give the same filters, headline and breakdown
    assert found.filters == form.filters()
    assert (found.headline, found.breakdown) == (
        form.cleaned_data["headline"],
        form.cleaned_data["breakdown"],
    )
