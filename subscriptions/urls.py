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
    # A card's vote link: the reader's feedback token, then the paper (old-style ids have a
    # slash), then ?v=more or ?v=less. Built by digest.composing.build.card_bases().
    path("feedback/<str:token>/<path:arxiv_id>/", views.feedback, name="feedback"),
    # A card's Follow link, built like the vote links (digest.composing.build.card_bases()).
    path("follow/<str:token>/<path:arxiv_id>/", views.follow, name="follow"),
    path("manage/<str:token>/unfollow/<int:paper_id>/", views.unfollow, name="unfollow"),
]
