from django.contrib import admin
from django.urls import include, path

from digest.web import webhooks

urlpatterns = [
    path("admin/", admin.site.urls),
    # The delivery webhook of the configured provider (WEBHOOK_ESP) only, basic auth with
    # ANYMAIL_WEBHOOK_SECRET; not anymail.urls (every provider's views: see digest.web.webhooks).
    path("anymail/<str:esp>/tracking/", webhooks.tracking, name="tracking_webhook"),
    path("digests/", include("digest.web.archive_urls")),
    path("feed/", include("digest.web.feed_urls")),
    path("", include("subscriptions.web.urls")),
    path("", include("digest.web.urls")),
    path("", include("digest.monitoring.urls")),  # /healthz, /metrics
]
