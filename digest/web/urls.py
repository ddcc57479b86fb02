"""Public pages of the digest: home (the archive and "view in browser" join here; /healthz and
/metrics are digest/monitoring/urls.py)."""

from django.urls import path

from digest.web import views

urlpatterns = [
    path("", views.home, name="home"),
]
