"""Library papers in the model: one positive set with the votes, the library weighed as at most
five likes, and the Recommended section's similarity floor."""

from __future__ import annotations

from datetime import date

import pytest

from digest.recommend import (
    RECOMMEND_FLOOR,
    PaperText,
    Vote,
    day_features_build,
    feature_space_fit,
    reader_model_train,
    recommend,
)
from digest.recommend.readers import LIBRARY_AS_LIKES
from digest.sources.snapshot import load_snapshot

ROBUSTNESS = ["2306.01762", "2506.21046", "1710.07859", "2503.20454"]


@pytest.fixture(scope="module")
def papers() -> dict[str, PaperText]:
    records = load_snapshot(listed_on=date(2026, 12, 4)).records
    return {
        r.arxiv_id: PaperText(arxiv_id=r.arxiv_id, title=r.title, abstract=r.abstract)
        for r in records
    }


def test_a_library_alone_is_its_own_mean_and_beside_likes_weighs_at_most_five():
    alone = reader_model_train(votes=[], library={"a": 1.0, "b": 1.0})
    assert alone is not None and alone.coefficients == {"a": 0.5, "b": 0.5}
    # 3 likes and a library of 400 summarised by two representatives (300 and 100 papers).
    mixed = reader_model_train(
        votes=[Vote(i, True) for i in "xyz"] + [Vote("d", False)],
        library={"big": 300.0, "small": 100.0},
    )
    assert mixed is not None
    total = 3 + LIBRARY_AS_LIKES
    assert mixed.coefficients["x"] == pytest.approx(1 / total)
    assert mixed.coefficients["big"] == pytest.approx(LIBRARY_AS_LIKES * 0.75 / total)
    assert mixed.coefficients["small"] == pytest.approx(LIBRARY_AS_LIKES * 0.25 / total)
    assert mixed.coefficients["d"] < 0
    # A paper both voted on and in the library counts as the vote; the fingerprint sees both.
    voted = reader_model_train(votes=[Vote("a", False)], library={"a": 1.0, "b": 1.0})
    assert voted is not None and voted.coefficients["a"] < 0 < voted.coefficients["b"]
    assert alone.fingerprint != reader_model_train(votes=[], library={"a": 1.0}).fingerprint
    assert reader_model_train(votes=[], library={}) is None


def test_library_papers_need_not_be_stored_papers(papers):
    """A library entry is text with a key of its own (no arXiv id): the model reads it."""
    space = feature_space_fit(window=list(papers.values()))
    liked = papers[ROBUSTNESS[0]]
    entry = PaperText(arxiv_id="library:7", title=liked.title, abstract=liked.abstract)
    model = reader_model_train(votes=[], library={"library:7": 1.0})
    day = day_features_build(space=space, candidates=list(papers.values()))
    picks = recommend(day=day, model=model, voted={"library:7": entry}, limit=3)
    assert picks[0].arxiv_id == liked.arxiv_id and picks[0].because_of == "library:7"


def test_the_floor_keeps_out_papers_nothing_liked_resembles_well(papers):
    space = feature_space_fit(window=list(papers.values()))
    liked = ROBUSTNESS[:2]
    rest = [p for i, p in papers.items() if i not in liked]
    day = day_features_build(space=space, candidates=rest)
    model = reader_model_train(votes=[Vote(i, True) for i in liked])
    everything = recommend(day=day, model=model, voted=papers, limit=50, floor=0.0)
    floored = recommend(day=day, model=model, voted=papers, limit=50)
    assert len(floored) < len(everything)
    assert all(p.similarity >= RECOMMEND_FLOOR for p in floored)
    assert [p.arxiv_id for p in floored] == [
        p.arxiv_id for p in everything if p.similarity >= RECOMMEND_FLOOR
    ][: len(floored)]
    assert set(ROBUSTNESS[2:]) <= {p.arxiv_id for p in floored}
