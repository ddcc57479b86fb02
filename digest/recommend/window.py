"""The recommendation window's papers in one feature space, fitted on first use.

A digest run (a send batch, a preview) makes one :class:`WindowFeatures` per day and process;
nothing is fitted unless a reader has votes or a ``like:`` topic, so a day without either costs
nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from digest.models import Paper
from digest.recommend.features import PaperText, feature_space_fit, paper_text
from digest.recommend.ranking import DayFeatures, day_features_build, like_matches


class WindowFeatures:
    """The window's papers (the last week's, as the topic section's) and the day's among them."""

    def __init__(self, *, papers: Sequence[Paper], day: date) -> None:
        self._papers = list(papers)
        self._day = day
        self._texts = {paper.arxiv_id: paper_text(paper) for paper in self._papers}
        self._window: DayFeatures | None = None
        self._today: DayFeatures | None = None
        self._likes: dict[str, dict[str, float]] = {}

    @property
    def window(self) -> DayFeatures:
        """Every paper of the window as a candidate (weekly readers, ``like:`` topics)."""
        if self._window is None:
            space = feature_space_fit(window=list(self._texts.values()))
            self._window = day_features_build(space=space, candidates=list(self._texts.values()))
        return self._window

    @property
    def today(self) -> DayFeatures:
        """The day's papers as candidates, in the window's space (daily readers)."""
        if self._today is None:
            todays = [self._texts[p.arxiv_id] for p in self._papers if p.listed_on == self._day]
            window = self.window
            self._today = day_features_build(
                space=window.space, candidates=todays, share_vectors_with=window
            )
        return self._today

    def text(self, arxiv_id: str) -> PaperText | None:
        """A paper's text, from the window or else from the database (an older paper)."""
        found = self._texts.get(arxiv_id)
        if found is None:
            paper = Paper.objects.filter(arxiv_id=arxiv_id).first()
            if paper is not None:
                found = self._texts[arxiv_id] = paper_text(paper)
        return found

    def texts(self, arxiv_ids: Sequence[str]) -> dict[str, PaperText]:
        """Texts of many papers: those outside the window read in one query."""
        missing = [i for i in arxiv_ids if i not in self._texts]
        if missing:
            for paper in Paper.objects.filter(arxiv_id__in=missing):
                self._texts[paper.arxiv_id] = paper_text(paper)
        return {i: self._texts[i] for i in arxiv_ids if i in self._texts}

    def like(self, arxiv_id: str) -> dict[str, float]:
        """``like:<arxiv_id>``: the window's papers like that one, with their cosine similarity
        (nothing for a paper we do not have)."""
        found = self._likes.get(arxiv_id)
        if found is None:
            exemplar = self.text(arxiv_id)
            found = (
                {} if exemplar is None else dict(like_matches(day=self.window, exemplar=exemplar))
            )
            self._likes[arxiv_id] = found
        return found
