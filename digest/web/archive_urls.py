from django.urls import path, register_converter

from digest.web import archive_views, paper_views


class ArxivIdConverter:
    """A bare arXiv id: new style (2409.10594) or old style (hep-th/9901001), no version.
    Anything else is no route at all: a 404."""

    regex = r"\d{4}\.\d{4,5}|[a-zA-Z][a-zA-Z.-]*(?:\.[A-Z]{2})?/\d{7}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ArxivIdConverter, "arxiv_id")

app_name = "digest"

urlpatterns = [
    path("<str:day>/", archive_views.day_archive, name="archive"),
    path("view/<str:token>/", archive_views.delivery_view, name="view"),
    # A paper's page under the day it was listed (Paper.listed_on never moves).
    path("<str:day>/<arxiv_id:arxiv_id>/", paper_views.paper_page, name="paper"),
    path("<str:day>/<arxiv_id:arxiv_id>/cite.bib", paper_views.paper_bibtex, name="paper_bibtex"),
    path(
        "<str:day>/<arxiv_id:arxiv_id>/check-your-inbox/",
        paper_views.follow_sent,
        name="paper_follow_sent",
    ),
]
