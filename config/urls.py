from django.contrib import admin
from django.urls import include, path

from subscriptions import webhook_views

urlpatterns = [
    path("admin/", admin.site.urls),
    # The delivery webhook of the configured provider (WEBHOOK_ESP) only, basic auth with
    # ANYMAIL_WEBHOOK_SECRET; not anymail.urls (every provider's views: see webhook_views).
    path("anymail/<str:esp>/tracking/", webhook_views.tracking, name="tracking_webhook"),
    path("digests/", include("digest.web.archive_urls")),
    path("", include("subscriptions.web.urls")),
    path("", include("digest.web.urls")),
]
