"""The API under /api/ (schema, docs, v1 endpoints) and the API tokens page."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import token_views, views

app_name = "api"

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("api/docs/redoc/", views.RedocView.as_view(url_name="api:schema"), name="redoc"),
    path("api/v1/teams/", views.TeamList.as_view(), name="team-list"),
    path("api/v1/campaigns/", views.CampaignList.as_view(), name="campaign-list"),
    path("api/v1/campaigns/<int:pk>/", views.CampaignDetail.as_view(), name="campaign-detail"),
    path("api/v1/campaigns/<int:pk>/ads/", views.CampaignAdList.as_view(), name="campaign-ads"),
    path(
        "api/v1/campaigns/<int:pk>/results/",
        views.CampaignResults.as_view(),
        name="campaign-results",
    ),
    path("api/v1/campaigns/<int:pk>/faces/", views.CampaignFaces.as_view(), name="campaign-faces"),
    path(
        "api/v1/campaigns/<int:pk>/export/", views.CampaignExport.as_view(), name="campaign-export"
    ),
    path("api/v1/ads/<int:pk>/", views.AdDetail.as_view(), name="ad-detail"),
    path("api/v1/ads/<int:pk>/uploads/", views.AdUploadList.as_view(), name="ad-uploads"),
    path(
        "api/v1/ads/<int:pk>/uploads/files/", views.AdFilesUpload.as_view(), name="ad-upload-files"
    ),
    path("api/v1/ads/<int:pk>/faces/", views.AdFaces.as_view(), name="ad-faces"),
    path("api/v1/ads/<int:pk>/export/", views.AdExport.as_view(), name="ad-export"),
    path("api/v1/batches/<int:pk>/", views.BatchDetail.as_view(), name="batch-detail"),
    path("api/v1/model-versions/", views.ModelVersionList.as_view(), name="model-version-list"),
    path(
        "api/v1/model-versions/<int:pk>/",
        views.ModelVersionDetail.as_view(),
        name="model-version-detail",
    ),
    # Anything else under /api/ is a JSON 404 (not the site's HTML page).
    re_path(r"^api/", views.not_found),
    path("account/api-tokens/", token_views.token_list, name="tokens"),
    path(
        "account/api-tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token_revoke"
    ),
]
