"""Text features: one tf-idf space per day, fitted over the recommendation window's papers.

Settings after arxiv-sanity-lite's `compute.py` (1-2-grams, sublinear tf, English stop words,
l2 norm, `max_df=0.1`): a phrase in more than a tenth of the window says little about a reader.
`min_df=2` (a term in one paper cannot make two papers similar, it only dilutes the norm) and
`max_features=50_000` suit a window of a few thousand papers. A window under `MIN_DF_FROM`
papers (a test, a first day) keeps every term: both limits would leave next to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.models import Paper

MAX_DF = 0.1
MIN_DF = 2
MIN_DF_FROM = 20
MAX_FEATURES = 50_000
# arxiv-sanity-lite's: words of two or more characters that start with a letter.
WORD_PATTERN = r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b"


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the features read of a paper. `extra` is Hugging Face's one-line `ai_summary`."""

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    extra: str = ""

    @property
    def document(self) -> str:
        return " ".join(
            part for part in (self.title, self.extra, self.abstract, " ".join(self.authors)) if part
        )


def paper_text(paper: Paper, *, ai_summary: str = "") -> PaperText:
    """The features' view of a stored paper (`ai_summary` until Paper carries it)."""
    return PaperText(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(str(name) for name in paper.authors or ()),
        extra=ai_summary,
    )


class FeatureSpace:
    """A fitted tf-idf vectorizer: rows are l2-normalised, so a dot product is a cosine."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self._vectorizer = vectorizer

    @property
    def size(self) -> int:
        return len(self._vectorizer.vocabulary_)

    def transform(self, papers: Iterable[PaperText]) -> sparse.csr_matrix:
        matrix = self._vectorizer.transform([paper.document for paper in papers])
        return sparse.csr_matrix(matrix, dtype=np.float32)


def feature_space_fit(*, window: Sequence[PaperText]) -> FeatureSpace:
    """Fit the day's space over the window's papers; every reader shares it."""
    if not window:
        raise ValueError("cannot fit text features on an empty window")
    vectorizer = TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=WORD_PATTERN,
        ngram_range=(1, 2),
        max_df=MAX_DF if len(window) >= MIN_DF_FROM else 1.0,
        min_df=MIN_DF if len(window) >= MIN_DF_FROM else 1,
        max_features=MAX_FEATURES,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        dtype=np.float32,
    )
    vectorizer.fit([paper.document for paper in window])
    return FeatureSpace(vectorizer)
