"""The analysis' pages: the campaign list with its figures, dashboards, ads, photos, exports.

No namespace of their own: fer_site/urls.py serves them in the `campaigns:` namespace with
campaigns' pages, under the names the templates, the API and bookmarked links already use.
"""

from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path(
        "campaigns/<int:campaign_id>/dashboard/",
        views.campaign_dashboard,
        name="campaign_dashboard",
    ),
    path(
        "campaigns/<int:campaign_id>/dashboard/timeline/",
        views.campaign_dashboard_timeline,
        name="campaign_dashboard_timeline",
    ),
    path(
        "campaigns/<int:campaign_id>/export.csv",
        views.campaign_export,
        name="campaign_export",
    ),
    path("ads/<int:ad_id>/", views.ad_detail, name="ad_detail"),
    path("ads/<int:ad_id>/export.csv", views.ad_export, name="ad_export"),
    path("ads/<int:ad_id>/reanalyse/", views.ad_reanalyse, name="ad_reanalyse"),
    path("ads/<int:ad_id>/creative-frame", views.creative_frame, name="creative_frame"),
    path("photos/<int:image_id>/", views.photo_detail, name="photo_detail"),
    path("photos/<int:image_id>/file", views.photo_file, name="photo_file"),
]
