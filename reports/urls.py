from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    # The team's: the report, the workbooks and the campaign's share links.
    path("campaigns/<int:campaign_id>/report.pdf", views.campaign_report, name="campaign_report"),
    path(
        "campaigns/<int:campaign_id>/export.xlsx",
        views.campaign_workbook,
        name="campaign_workbook",
    ),
    path("ads/<int:ad_id>/export.xlsx", views.ad_workbook, name="ad_workbook"),
    path("campaigns/<int:campaign_id>/shares/", views.share_links, name="share_links"),
    path("shares/<int:link_id>/revoke/", views.share_link_revoke, name="share_link_revoke"),
    # A client's, through a share link: one campaign, read-only.
    path("share/<int:campaign_id>/<str:token>/", views.shared_dashboard, name="shared_dashboard"),
    path(
        "share/<int:campaign_id>/<str:token>/timeline/",
        views.shared_timeline,
        name="shared_timeline",
    ),
    path(
        "share/<int:campaign_id>/<str:token>/report.pdf",
        views.shared_report,
        name="shared_report",
    ),
    path(
        "share/<int:campaign_id>/<str:token>/ads/<int:ad_id>/frame",
        views.shared_frame,
        name="shared_frame",
    ),
    path(
        "share/<int:campaign_id>/<str:token>/photos/<int:image_id>",
        views.shared_photo,
        name="shared_photo",
    ),
]
