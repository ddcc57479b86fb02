from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # Delivery webhooks: /anymail/<esp>/tracking/, basic auth with ANYMAIL_WEBHOOK_SECRET.
    path("anymail/", include("anymail.urls")),
    path("digests/", include("digest.web.archive_urls")),
    path("", include("subscriptions.urls")),
    path("", include("digest.web.urls")),
]
