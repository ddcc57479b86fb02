"""Scoring the day's papers for readers: one matrix product per batch of readers.

Once a day: :func:`day_features_build` turns the day's candidates into a matrix (rows
l2-normalised, so products are cosines). Per batch of readers: the papers they voted on become a
second matrix, ``S = X_voted . X_day^T`` is computed once, and each reader's scores are their
coefficients times `S` (a sparse-dense product for the whole batch). `S` also gives each
recommendation its reason, the liked paper most similar to it.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from scipy import sparse

from digest.recommend.features import FeatureSpace, PaperText
from digest.recommend.readers import ReaderModel

# Cosine similarity from which a day's paper matches `like:<arXiv id>`: the best F1 (0.42;
# precision 0.44, recall 0.40) at separating pairs of the bundled listing that share a labelled
# interest from pairs that do not, by `bench/recommend_eval.py --calibrate-like`, in the words
# plus word prefixes space (features.py). Cosines depend on the window the space is fitted on;
# rerun that after changing the features.
LIKE_THRESHOLD = 0.10
# The Recommended section's floor: a paper goes in only if some liked paper (or library paper)
# has at least this cosine with it; rather a short section than a weak paper.
# `bench/recommend_eval.py --calibrate-floor` (docs/recommendations.md, "The floor").
RECOMMEND_FLOOR = 0.10
# Papers whose vectors and similarity rows a day keeps (a row is 4 bytes per candidate: 200 MB
# for a 1,000-paper day at most); past the limit they are computed each time, results unchanged.
CACHE_LIMIT = 50_000

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A paper for the Recommended section: why is `because_of`, the liked paper nearest to it
    ("Similar to <its title> that you liked"), with their cosine similarity."""

    arxiv_id: str
    score: float
    because_of: str
    similarity: float


@dataclass(slots=True)
class DayFeatures:
    """The day's candidates in the day's feature space, built once per day per process."""

    space: FeatureSpace
    arxiv_ids: list[str]
    matrix: sparse.csr_matrix
    _vectors: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _rows: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def vectors(self, papers: Sequence[PaperText]) -> sparse.csr_matrix:
        """Rows for these papers, each transformed once a day (voted papers recur in batches)."""
        missing = {p.arxiv_id: p for p in papers if p.arxiv_id not in self._vectors}
        fresh: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if missing:
            rows = self.space.transform(list(missing.values()))
            for position, arxiv_id in enumerate(missing):
                start, end = rows.indptr[position], rows.indptr[position + 1]
                fresh[arxiv_id] = (rows.indices[start:end], rows.data[start:end])
            if len(self._vectors) + len(fresh) <= CACHE_LIMIT:
                self._vectors.update(fresh)
        # Built from (indices, values) pairs: stacking 1-row matrices is far slower.
        parts = [
            fresh[p.arxiv_id] if p.arxiv_id in fresh else self._vectors[p.arxiv_id] for p in papers
        ]
        indptr = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(indices) for indices, _ in parts], out=indptr[1:])
        empty = np.zeros(0, dtype=np.int32)
        indices = np.concatenate([i for i, _ in parts]) if parts else empty
        values = np.concatenate([v for _, v in parts]) if parts else empty.astype(np.float32)
        return sparse.csr_matrix(
            (values, indices, indptr), shape=(len(parts), self.space.size), dtype=np.float32
        )

    def similarities(self, papers: Sequence[PaperText]) -> np.ndarray:
        """Cosine similarity of each given paper (rows) to each candidate (columns).

        Rows are kept for the day: the papers readers voted on recur from batch to batch, so
        each costs one sparse product a day, not one per batch.
        """
        missing = list({p.arxiv_id: p for p in papers if p.arxiv_id not in self._rows}.values())
        fresh: dict[str, np.ndarray] = {}
        if missing:
            product = np.asarray((self.vectors(missing) @ self.matrix.T).toarray(), np.float32)
            fresh = {paper.arxiv_id: product[position] for position, paper in enumerate(missing)}
            if len(self._rows) + len(fresh) <= CACHE_LIMIT:
                self._rows.update(fresh)
        if not papers:
            return np.zeros((0, len(self.arxiv_ids)), dtype=np.float32)
        rows = [
            fresh[p.arxiv_id] if p.arxiv_id in fresh else self._rows[p.arxiv_id] for p in papers
        ]
        return np.stack(rows)


def day_features_build(
    *,
    space: FeatureSpace,
    candidates: Sequence[PaperText],
    share_vectors_with: DayFeatures | None = None,
) -> DayFeatures:
    """The day's candidate matrix; `candidates` keep their order in `arxiv_ids`. Given
    `share_vectors_with` (another candidate set in the same space, e.g. the week's), the two
    transform each paper once between them: a reader's library papers recur in both."""
    day = DayFeatures(
        space=space,
        arxiv_ids=[paper.arxiv_id for paper in candidates],
        matrix=sparse.csr_matrix((0, space.size), dtype=np.float32),
    )
    if share_vectors_with is not None and share_vectors_with.space is space:
        day._vectors = share_vectors_with._vectors
    day.matrix = day.vectors(candidates)
    return day


def recommend_batch(
    *,
    day: DayFeatures,
    models: Mapping[K, ReaderModel],
    voted: Mapping[str, PaperText],
    exclude: Mapping[K, Collection[str]] | None = None,
    limit: int = 5,
    floor: float = RECOMMEND_FLOOR,
) -> dict[K, list[Recommendation]]:
    """Each reader's Recommended section: at most `limit` of the day's papers, best first.

    `voted` holds the texts of the papers these readers voted on (one query per batch); a voted
    paper missing from it is ignored. Left out for a reader: `exclude[reader]` (the papers
    already in their email), the papers they voted on, and papers nothing they liked resembles
    (score not above zero, or no liked paper with a cosine of at least `floor` to it), so a
    section can be short or empty.
    """
    exclude = exclude or {}
    readers = list(models)
    voted_ids = sorted({i for model in models.values() for i in model.coefficients if i in voted})
    if not readers or not voted_ids or not day.arxiv_ids:
        return {reader: [] for reader in readers}
    column = {arxiv_id: position for position, arxiv_id in enumerate(voted_ids)}
    similarity = day.similarities([voted[i] for i in voted_ids])
    rows, cols, values = [], [], []
    for row, reader in enumerate(readers):
        for arxiv_id, coefficient in models[reader].coefficients.items():
            if arxiv_id in column:
                rows.append(row)
                cols.append(column[arxiv_id])
                values.append(coefficient)
    coefficients = sparse.csr_matrix(
        (values, (rows, cols)), shape=(len(readers), len(voted_ids)), dtype=np.float32
    )
    scores = np.asarray(coefficients @ similarity)
    candidate = {arxiv_id: position for position, arxiv_id in enumerate(day.arxiv_ids)}
    result: dict[K, list[Recommendation]] = {}
    for row, reader in enumerate(readers):
        model = models[reader]
        reader_scores = scores[row].copy()
        for arxiv_id in (*exclude.get(reader, ()), *model.coefficients):
            position = candidate.get(arxiv_id)
            if position is not None:
                reader_scores[position] = -np.inf
        liked_rows = [column[i] for i in model.liked if i in column]
        result[reader] = _top(day, reader_scores, similarity, liked_rows, voted_ids, limit, floor)
    return result


def _top(
    day: DayFeatures,
    scores: np.ndarray,
    similarity: np.ndarray,
    liked_rows: list[int],
    voted_ids: list[str],
    limit: int,
    floor: float,
) -> list[Recommendation]:
    if not liked_rows or limit <= 0:
        return []
    # Twice the places: a paper under the floor leaves its place to the next one that passes.
    count = min(2 * limit, len(scores))
    top = np.argpartition(-scores, count - 1)[:count]
    # Ties broken by the day's order (the caller's, e.g. trending first), so output is stable.
    best = sorted(top.tolist(), key=lambda position: (-scores[position], position))
    picks: list[Recommendation] = []
    for position in best:
        if not scores[position] > 0 or len(picks) >= limit:
            break
        nearest = max(liked_rows, key=lambda row: similarity[row, position])
        if similarity[nearest, position] < floor:
            continue
        picks.append(
            Recommendation(
                arxiv_id=day.arxiv_ids[position],
                score=float(scores[position]),
                because_of=voted_ids[nearest],
                similarity=float(similarity[nearest, position]),
            )
        )
    return picks


def recommend(
    *,
    day: DayFeatures,
    model: ReaderModel,
    voted: Mapping[str, PaperText],
    exclude: Collection[str] = (),
    limit: int = 5,
    floor: float = RECOMMEND_FLOOR,
) -> list[Recommendation]:
    """One reader's Recommended section (see :func:`recommend_batch`, which a send batch uses)."""
    return recommend_batch(
        day=day, models={0: model}, voted=voted, exclude={0: exclude}, limit=limit, floor=floor
    )[0]


def reorder(
    *,
    day: DayFeatures,
    model: ReaderModel | None,
    voted: Mapping[str, PaperText],
    papers: Sequence[PaperText],
) -> list[str]:
    """One reader's topic section reordered (see :func:`reorder_batch`)."""
    if model is None:
        return [paper.arxiv_id for paper in papers]
    return reorder_batch(day=day, models={0: model}, voted=voted, sections={0: papers})[0]


def reorder_batch(
    *,
    day: DayFeatures,
    models: Mapping[K, ReaderModel],
    voted: Mapping[str, PaperText],
    sections: Mapping[K, Sequence[PaperText]],
) -> dict[K, list[str]]:
    """Each reader's section (e.g. the topic section) as arXiv ids, the papers most like what
    the reader liked first and the ones like what they disliked last; none removed, and papers
    the model says nothing about keep their order. A reader without a model keeps theirs."""
    result = {reader: [paper.arxiv_id for paper in papers] for reader, papers in sections.items()}
    with_model = [r for r in sections if r in models and sections[r]]
    voted_ids = sorted({i for r in with_model for i in models[r].coefficients if i in voted})
    if not voted_ids:
        return result
    shown = list({p.arxiv_id: p for r in with_model for p in sections[r]}.values())
    column = {paper.arxiv_id: position for position, paper in enumerate(shown)}
    row = {arxiv_id: position for position, arxiv_id in enumerate(voted_ids)}
    voted_papers = [voted[i] for i in voted_ids]
    # The section's papers of the day come from the day's similarity rows; others are computed.
    candidate = {arxiv_id: position for position, arxiv_id in enumerate(day.arxiv_ids)}
    in_day = [p for p in shown if p.arxiv_id in candidate]
    elsewhere = [p for p in shown if p.arxiv_id not in candidate]
    similarity = np.zeros((len(voted_ids), len(shown)), dtype=np.float32)
    if in_day:
        day_rows = day.similarities(voted_papers)
        similarity[:, [column[p.arxiv_id] for p in in_day]] = day_rows[
            :, [candidate[p.arxiv_id] for p in in_day]
        ]
    if elsewhere:
        product = day.vectors(voted_papers) @ day.vectors(elsewhere).T
        similarity[:, [column[p.arxiv_id] for p in elsewhere]] = product.toarray()
    for reader in with_model:
        coefficients = models[reader].coefficients
        mine = [i for i in coefficients if i in row]
        weights = np.array([coefficients[i] for i in mine], dtype=np.float32)
        columns = [column[paper.arxiv_id] for paper in sections[reader]]
        scores = weights @ similarity[np.ix_([row[i] for i in mine], columns)]
        ids = result[reader]
        order = sorted(range(len(ids)), key=lambda position: (-scores[position], position))
        result[reader] = [ids[position] for position in order]
    return result


def like_matches(
    *, day: DayFeatures, exemplar: PaperText, threshold: float = LIKE_THRESHOLD
) -> list[tuple[str, float]]:
    """`like:<arXiv id>`: the day's papers whose cosine similarity to the exemplar is at least
    `threshold`, most similar first, the exemplar itself left out."""
    similarity = day.similarities([exemplar])[0]
    matches = [
        (arxiv_id, float(similarity[position]))
        for position, arxiv_id in enumerate(day.arxiv_ids)
        if arxiv_id != exemplar.arxiv_id and similarity[position] >= threshold
    ]
    return sorted(matches, key=lambda match: -match[1])
