from django.urls import path

from digest.web import archive_views

app_name = "digest"

urlpatterns = [
    path("<str:day>/", archive_views.day_archive, name="archive"),
    path("view/<str:token>/", archive_views.delivery_view, name="view"),
]
