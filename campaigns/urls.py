from django.urls import path

from campaigns import ingest_views, views

# The namespace of the site's pages: fer_site/urls.py serves analytics' pages (the campaign
# list, dashboards, ads, photos, exports) in it too.
app_name = "campaigns"

urlpatterns = [
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:campaign_id>/delete/", views.campaign_delete, name="campaign_delete"),
    path("campaigns/<int:campaign_id>/ads/new/", views.ad_create, name="ad_create"),
    path("ads/<int:ad_id>/edit/", views.ad_edit, name="ad_edit"),
    path("ads/<int:ad_id>/delete/", views.ad_delete, name="ad_delete"),
    path("ads/<int:ad_id>/creative", views.ad_creative, name="ad_creative"),
    # Uploads and batches (campaigns/ingest_views.py).
    path("ads/<int:ad_id>/upload/", ingest_views.batch_upload, name="batch_upload"),
    path("batches/<int:batch_id>/", ingest_views.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/status.json", ingest_views.batch_status, name="batch_status"),
    path("batches/<int:batch_id>/reprocess/", ingest_views.batch_reprocess, name="batch_reprocess"),
    path("batches/<int:batch_id>/delete/", ingest_views.batch_delete, name="batch_delete"),
]
