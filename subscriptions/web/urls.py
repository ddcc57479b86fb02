"""The reader's URLs. The names are a contract: emails build their links with them."""

from django.urls import path

from subscriptions.web import export, feedback, library, manage, signup

app_name = "subscriptions"

urlpatterns = [
    path("subscribe/", signup.subscribe, name="subscribe"),
    path("subscribe/preview/", signup.preview, name="preview"),
    path("subscribe/preview/starter/", signup.starter_preview, name="starter_preview"),
    path("subscribe/check-your-inbox/", signup.check_inbox, name="check_inbox"),
    path("confirm/resend/", signup.resend, name="resend"),
    path("confirm/<str:token>/", signup.confirm, name="confirm"),
    path("manage/<str:token>/", manage.manage, name="manage"),
    path("unsubscribe/<str:token>/", manage.unsubscribe, name="unsubscribe"),
    path("resubscribe/<str:token>/", manage.resubscribe, name="resubscribe"),
    path("manage/<str:token>/erase/", manage.erase, name="erase"),
    # Liked and followed papers as BibTeX or CSL-JSON.
    path("manage/<str:token>/export.bib", export.export, {"fmt": "bib"}, name="export_bibtex"),
    path("manage/<str:token>/export.json", export.export, {"fmt": "json"}, name="export_csl"),
    path("manage/<str:token>/library/", library.library, name="library"),
    # A card's vote link: the reader's feedback token, then the paper (old-style ids have a
    # slash), then ?v=more or ?v=less. Built by digest.composing.build.card_bases().
    path("feedback/<str:token>/<path:arxiv_id>/", feedback.feedback, name="feedback"),
    # A card's Follow link, built like the vote links (digest.composing.build.card_bases()).
    path("follow/<str:token>/<path:arxiv_id>/", feedback.follow, name="follow"),
    path("manage/<str:token>/unfollow/<int:paper_id>/", manage.unfollow, name="unfollow"),
]
