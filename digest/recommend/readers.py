"""A reader's model: from their votes to coefficients over the papers they voted on.

The classifier is the nearest-centroid (Rocchio) linear classifier in the tf-idf space,
``w = mean(liked vectors) - DISLIKE_WEIGHT * mean(disliked vectors)``, kept in its dual form: a
coefficient per voted paper, not a weight per term. That is arxiv-sanity-lite's
`LinearSVC(C=0.01, class_weight="balanced")` in the limit it runs in (with so small a C every
training paper is a margin violator, every dual variable sits at its bound, and ``w`` becomes the
difference of the class means). The background mean (every other paper of the window) is left
out: it is the same vector for every reader, but it does move a day's ranking (it marks down the
papers most like the average paper), and measured on the bundled listing it only made the
labelled interests rank worse (medical imaging, liked: its other papers from 2nd, 5th, 6th to
2nd, 5th, 7th with half its weight, 2nd, 7th, 8th with 1.5 times). `bench/recommend_eval.py`
prints both on the same splits. The dual form is what makes the model cheap and durable:

- it stays valid when tomorrow's vocabulary differs (no term indices are stored);
- a reader with no votes has no model and costs nothing; a retrain is a fingerprint check;
- scoring is ``coefficients . (X_voted . X_day^T)``, one similarity matrix per batch of readers,
  which also gives the reason: the liked paper most similar to each recommendation.

`DISLIKE_WEIGHT` is Rocchio's classic gamma/beta = 0.15/0.75 (Manning, Raghavan, Schuetze,
*Introduction to Information Retrieval*, 9.1.1), not a figure tuned on the evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

DISLIKE_WEIGHT = 0.2
# A reference library, however large, weighs as much as this many explicit likes together (or
# its size, if smaller): a reader's three "More like this" clicks of this week still count for
# 3/8 of the model beside a library of 2,000 papers, and a library alone is its own mean.
# Not tuned (docs/recommendations.md, "Library papers").
LIBRARY_AS_LIKES = 5.0
# Bumped when the training changes, so every stored model is retrained once.
MODEL_VERSION = 1

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Vote:
    """One reader's vote on one paper: liked ("More like this") or not ("Less like this")."""

    arxiv_id: str
    liked: bool


@dataclass(frozen=True, slots=True)
class ReaderModel:
    """What a caller stores per reader (`to_dict()` is JSON): the votes' fingerprint and the
    coefficient of each voted paper (positive for likes, negative for dislikes)."""

    fingerprint: str
    coefficients: dict[str, float] = field(default_factory=dict)

    @property
    def liked(self) -> tuple[str, ...]:
        return tuple(arxiv_id for arxiv_id, c in self.coefficients.items() if c > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": MODEL_VERSION,
            "fingerprint": self.fingerprint,
            "coefficients": dict(self.coefficients),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReaderModel:
        """Read back `to_dict()`; a malformed value raises ValueError, never half a model."""
        try:
            coefficients = {str(k): float(v) for k, v in dict(data["coefficients"]).items()}
            return cls(fingerprint=str(data["fingerprint"]), coefficients=coefficients)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a stored reader model: {exc}") from exc


def votes_fingerprint(votes: Iterable[Vote], library: Mapping[str, float] | None = None) -> str:
    """A digest of the votes (order-free) and of the model version: equal means no retrain.

    A second vote on a paper replaces the first upstream, so each id appears once here; if an
    id did appear twice the later vote wins, as in training.
    """
    latest = {vote.arxiv_id: vote.liked for vote in votes}
    lines = [f"v{MODEL_VERSION}"] + [f"{i}\t{int(liked)}" for i, liked in sorted(latest.items())]
    lines += [f"L{key}\t{weight:.6g}" for key, weight in sorted((library or {}).items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def reader_model_train(
    *, votes: Iterable[Vote], library: Mapping[str, float] | None = None
) -> ReaderModel | None:
    """The reader's model, or None with neither votes nor library (no recommendations).

    `library` holds the reader's library papers the model scores with, each with how many of
    the library's papers it stands for (1 each, or a cluster's size for a summarised library:
    subscriptions.library.summary); a paper also voted on counts as the vote. Likes and the
    library are one positive set: each like weighs 1, the library as a whole
    ``min(its size, LIBRARY_AS_LIKES)`` shared by its papers' weights; the centroid is their
    weighted mean.
    """
    votes = list(votes)
    latest = {vote.arxiv_id: vote.liked for vote in votes}
    library = {k: w for k, w in (library or {}).items() if k not in latest and w > 0}
    if not latest and not library:
        return None
    liked = sorted(i for i, is_liked in latest.items() if is_liked)
    disliked = sorted(i for i, is_liked in latest.items() if not is_liked)
    library_size = sum(library.values())
    library_mass = min(library_size, LIBRARY_AS_LIKES)
    total = len(liked) + library_mass
    coefficients = {i: 1.0 / total for i in liked}
    coefficients.update(
        {k: library_mass * w / library_size / total for k, w in sorted(library.items())}
    )
    coefficients.update({i: -DISLIKE_WEIGHT / len(disliked) for i in disliked})
    return ReaderModel(fingerprint=votes_fingerprint(votes, library), coefficients=coefficients)


@dataclass(slots=True)
class RefreshResult(Generic[K]):
    """Every reader's current model; `retrained` lists the readers whose model changed (store
    those), `dropped` the readers who no longer have votes (delete theirs)."""

    models: dict[K, ReaderModel]
    retrained: list[K]
    dropped: list[K]


def reader_models_refresh(
    *, votes_by_reader: Mapping[K, Iterable[Vote]], stored: Mapping[K, ReaderModel]
) -> RefreshResult[K]:
    """Retrain only the readers whose votes changed since their stored model.

    `votes_by_reader` holds the readers with votes; a stored reader missing from it is dropped.
    """
    result: RefreshResult[K] = RefreshResult(models={}, retrained=[], dropped=[])
    for reader, reader_votes in votes_by_reader.items():
        votes = list(reader_votes)
        previous = stored.get(reader)
        if previous is not None and previous.fingerprint == votes_fingerprint(votes):
            result.models[reader] = previous
            continue
        model = reader_model_train(votes=votes)
        if model is None:
            if previous is not None:
                result.dropped.append(reader)
            continue
        result.models[reader] = model
        result.retrained.append(reader)
    result.dropped.extend(reader for reader in stored if reader not in votes_by_reader)
    return result
