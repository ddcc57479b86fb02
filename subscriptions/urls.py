"""The reader's URLs. The names are a contract: emails build their links with them."""

from django.urls import path

from subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/preview/", views.preview, name="preview"),
    path("subscribe/check-your-inbox/", views.check_inbox, name="check_inbox"),
    path("confirm/resend/", views.resend, name="resend"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("resubscribe/<str:token>/", views.resubscribe, name="resubscribe"),
    path("manage/<str:token>/erase/", views.erase, name="erase"),
    path("follow/<str:token>/<int:paper_id>/", views.follow, name="follow"),
    path("manage/<str:token>/unfollow/<int:paper_id>/", views.unfollow, name="unfollow"),
]
