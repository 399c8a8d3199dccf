from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from analytics import urls as analytics_urls
from campaigns import urls as campaigns_urls
from campaigns import views as campaign_views

# Error pages answer JSON to clients that ask for it (campaigns/views.py).
handler400 = "campaigns.views.bad_request"
handler403 = "campaigns.views.permission_denied"
handler404 = "campaigns.views.page_not_found"
handler500 = "campaigns.views.server_error"

# Uploaded photos are private to their team: MEDIA_ROOT is never served as a public URL.
urlpatterns = [
    path("healthz", campaign_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The REST API (/api/: schema, docs, v1) and the API tokens page (api/urls.py).
    path("", include("api.urls")),
    # Studies and the public capture pages (/s/<slug>/) of reaction capture in the browser.
    path("", include("studies.urls")),
    # Reports, XLSX downloads and read-only share links (reports/urls.py).
    path("", include("reports.urls")),
    # Campaigns' pages (teams, campaigns, ads, uploads) and analytics' (campaign list,
    # dashboards, photos, exports) share the `campaigns:` namespace the templates name.
    path(
        "",
        include((campaigns_urls.urlpatterns + analytics_urls.urlpatterns, campaigns_urls.app_name)),
    ),
]
