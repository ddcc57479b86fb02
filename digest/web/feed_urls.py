"""The Atom feeds, under /feed/: the public trending feed and each reader's private one."""

from django.urls import path

from digest.web import feeds

app_name = "feeds"

urlpatterns = [
    # Before the token route, so that "trending" is never read as a token.
    path("trending/", feeds.trending_feed, name="trending"),
    path("<str:token>/", feeds.reader_feed, name="reader"),
]
