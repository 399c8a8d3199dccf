from django.urls import path

from studies import public_views, views

app_name = "studies"

urlpatterns = [
    path("campaigns/<int:campaign_id>/studies/", views.study_list, name="study_list"),
    path("campaigns/<int:campaign_id>/studies/new/", views.study_create, name="study_create"),
    path("studies/<int:study_id>/", views.study_detail, name="study_detail"),
    path("studies/<int:study_id>/edit/", views.study_edit, name="study_edit"),
    path("studies/<int:study_id>/status/", views.study_status, name="study_status"),
    path("studies/<int:study_id>/counts.json", views.study_counts, name="study_counts"),
    # The public link and what its script calls (studies/public_views.py).
    path("s/<str:slug>/", public_views.capture_page, name="capture_page"),
    path(
        "s/<str:slug>/ads/<int:ad_id>/creative",
        public_views.capture_creative,
        name="capture_creative",
    ),
    path("s/<str:slug>/api/start", public_views.capture_start, name="capture_start"),
    path("s/<str:slug>/api/decline", public_views.capture_decline, name="capture_decline"),
    path("s/<str:slug>/api/check", public_views.capture_check, name="capture_check"),
    path(
        "s/<str:slug>/api/ads/<int:ad_id>/start",
        public_views.capture_ad_start,
        name="capture_ad_start",
    ),
    path(
        "s/<str:slug>/api/ads/<int:ad_id>/frames",
        public_views.capture_frames,
        name="capture_frames",
    ),
    path(
        "s/<str:slug>/api/ads/<int:ad_id>/end", public_views.capture_ad_end, name="capture_ad_end"
    ),
    path("s/<str:slug>/api/finish", public_views.capture_finish, name="capture_finish"),
    path("s/<str:slug>/api/withdraw", public_views.capture_withdraw, name="capture_withdraw"),
]
