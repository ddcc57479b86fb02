"""Public pages of the digest: home and health (the archive and "view in browser" join here)."""

from django.urls import path

from digest.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
]
