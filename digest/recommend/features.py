"""Text features: one space per day, fitted over the recommendation window's papers.

A paper's vector is two l2-normalised tf-idf blocks side by side, each scaled by the square root
of its weight (a half each), so the dot product of two vectors is the mean of the two blocks'
cosine similarities and everything downstream (scores, reasons, ``like:``) reads it as one
cosine:

- ``words``: arxiv-sanity-lite's `compute.py` settings (1-2-grams, sublinear tf, English stop
  words, `max_df=0.1`, its token pattern): a phrase in more than a tenth of the window says
  little about a reader. Precise, but "MRIs" and "MRI", "clinical" and "clinically" never meet.
- ``prefixes``: single words cut to their first `PREFIX_LENGTH` characters (truncation, the
  online searcher's ``diagn*``), an acronym's plural taken back to the acronym ("MRIs",
  "LLMs"), `max_df=0.15`: the subject words a field shares in all their forms ("clinical",
  "clinically", "clinicians"; "diagnosis", "diagnostic", "diagnosing"; "radiology",
  "radiologist"). A stemmer joins fewer of them (Snowball leaves "diagnosi", "diagnost" and
  "diagnos" apart) and measured worse. The token pattern keeps words of two or more
  characters that start with a letter, so "X-rays" is "rays", "self-supervised" is "self" and
  "super", and "3D" is dropped.

`min_df=2` in both (a term in one paper cannot make two papers similar, it only dilutes the
norm) and at most `MAX_FEATURES` terms per block, for a window of a few thousand papers; a
window under `MIN_DF_FROM` papers (a test, a first day) keeps every term. docs/recommendations.md
has the evaluation behind the choice, and what was tried and not kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from digest.models import Paper

MAX_DF = 0.1
PREFIXES_MAX_DF = 0.15
PREFIX_LENGTH = 5
MIN_DF = 2
MIN_DF_FROM = 20
MAX_FEATURES = 50_000
# arxiv-sanity-lite's: words of two or more characters that start with a letter.
WORD_PATTERN = r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b"
_WORDS = re.compile(WORD_PATTERN)
# An acronym's plural ("LLMs", "CNNs", "MRIs"), which no stemmer takes back to the acronym.
_ACRONYM_PLURAL = re.compile(r"\b([A-Z][A-Z0-9]*[A-Z])s\b")


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the features read of a paper: `extra` is Hugging Face's one-line `ai_summary`,
    `keywords` its `ai_keywords` (field phrases such as "medical image segmentation" that an
    abstract may never spell out)."""

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    extra: str = ""
    keywords: tuple[str, ...] = ()

    @property
    def document(self) -> str:
        parts = (self.title, ", ".join(self.keywords), self.extra, self.abstract)
        return " ".join(part for part in (*parts, " ".join(self.authors)) if part)


def paper_text(paper: Paper) -> PaperText:
    """The features' view of a stored paper. Its arXiv categories stay out: "cs.LG" would
    tokenise to "cs" and "LG", too broad or (as "IV", "CL") one with ordinary words."""
    return PaperText(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(str(name) for name in paper.authors or ()),
        extra=paper.ai_summary,
        keywords=tuple(str(keyword) for keyword in paper.keywords or ()),
    )


class FeatureSpace:
    """The fitted blocks: rows are l2-normalised, so a dot product is a cosine similarity."""

    def __init__(self, blocks: Sequence[tuple[TfidfVectorizer, float]]) -> None:
        self._blocks = list(blocks)

    @property
    def size(self) -> int:
        return sum(len(vectorizer.vocabulary_) for vectorizer, _ in self._blocks)

    def transform(self, papers: Iterable[PaperText]) -> sparse.csr_matrix:
        documents = [paper.document for paper in papers]
        parts = [
            np.float32(np.sqrt(weight)) * vectorizer.transform(documents)
            for vectorizer, weight in self._blocks
        ]
        # A paper with no term in some block (a very short text) is renormalised over the others.
        matrix = normalize(sparse.hstack(parts, format="csr"), norm="l2", copy=False)
        return sparse.csr_matrix(matrix, dtype=np.float32)


def _prefixes_analyzer() -> Callable[[str], list[str]]:
    """Lowercased words of `WORD_PATTERN`, English stop words out, cut to `PREFIX_LENGTH`
    characters (an acronym's plural first taken back to the acronym)."""
    preprocess = TfidfVectorizer(strip_accents="unicode", lowercase=True).build_preprocessor()

    def analyze(document: str) -> list[str]:
        text = preprocess(_ACRONYM_PLURAL.sub(r"\1", document))
        return [
            word[:PREFIX_LENGTH] for word in _WORDS.findall(text) if word not in ENGLISH_STOP_WORDS
        ]

    return analyze


def feature_space_fit(*, window: Sequence[PaperText]) -> FeatureSpace:
    """Fit the day's space over the window's papers; every reader shares it."""
    if not window:
        raise ValueError("cannot fit text features on an empty window")
    large = len(window) >= MIN_DF_FROM
    common = {
        "min_df": MIN_DF if large else 1,
        "max_features": MAX_FEATURES,
        "norm": "l2",
        "sublinear_tf": True,
        "dtype": np.float32,
    }
    words = TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        stop_words="english",
        token_pattern=WORD_PATTERN,
        ngram_range=(1, 2),
        max_df=MAX_DF if large else 1.0,
        **common,
    )
    prefixes = TfidfVectorizer(
        analyzer=_prefixes_analyzer(), max_df=PREFIXES_MAX_DF if large else 1.0, **common
    )
    documents = [paper.document for paper in window]
    blocks = [(vectorizer.fit(documents), 0.5) for vectorizer in (words, prefixes)]
    return FeatureSpace(blocks)
