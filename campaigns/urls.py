from django.urls import path

from campaigns import dashboard_views, ingest_views, views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:campaign_id>/delete/", views.campaign_delete, name="campaign_delete"),
    path("campaigns/<int:campaign_id>/ads/new/", views.ad_create, name="ad_create"),
    path("ads/<int:ad_id>/edit/", views.ad_edit, name="ad_edit"),
    path("ads/<int:ad_id>/delete/", views.ad_delete, name="ad_delete"),
    path("ads/<int:ad_id>/creative", views.ad_creative, name="ad_creative"),
    # Dashboards, photos and exports (campaigns/dashboard_views.py).
    path(
        "campaigns/<int:campaign_id>/dashboard/",
        dashboard_views.campaign_dashboard,
        name="campaign_dashboard",
    ),
    path(
        "campaigns/<int:campaign_id>/dashboard/timeline/",
        dashboard_views.campaign_dashboard_timeline,
        name="campaign_dashboard_timeline",
    ),
    path(
        "campaigns/<int:campaign_id>/export.csv",
        dashboard_views.campaign_export,
        name="campaign_export",
    ),
    path("ads/<int:ad_id>/", dashboard_views.ad_detail, name="ad_detail"),
    path("ads/<int:ad_id>/export.csv", dashboard_views.ad_export, name="ad_export"),
    path("ads/<int:ad_id>/reanalyse/", dashboard_views.ad_reanalyse, name="ad_reanalyse"),
    path("ads/<int:ad_id>/creative-frame", dashboard_views.creative_frame, name="creative_frame"),
    path("photos/<int:image_id>/", dashboard_views.photo_detail, name="photo_detail"),
    path("photos/<int:image_id>/file", dashboard_views.photo_file, name="photo_file"),
    # Uploads and batches (campaigns/ingest_views.py).
    path("ads/<int:ad_id>/upload/", ingest_views.batch_upload, name="batch_upload"),
    path("batches/<int:batch_id>/", ingest_views.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/status.json", ingest_views.batch_status, name="batch_status"),
    path("batches/<int:batch_id>/reprocess/", ingest_views.batch_reprocess, name="batch_reprocess"),
    path("batches/<int:batch_id>/delete/", ingest_views.batch_delete, name="batch_delete"),
]
