"""digest.recommend on the bundled listing: rankings, reasons, `like:`, the model cache."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from digest.models import Paper
from digest.recommend import (
    LIKE_THRESHOLD,
    PaperText,
    ReaderModel,
    Vote,
    day_features_build,
    feature_space_fit,
    like_matches,
    paper_text,
    reader_model_train,
    reader_models_refresh,
    recommend,
    recommend_batch,
    reorder,
    reorder_batch,
)
from digest.sources.snapshot import load_snapshot

# Labelled by hand from titles and abstracts (bench/data/recommend_interests.json); the reader
# likes (or dislikes) the first three, in the order labelled, not chosen for the result.
INTERESTS = {
    "medical imaging": [
        "2305.00385",  # prostate cancer, bi-parametric MRI
        "2206.04246",  # chest X-ray classification
        "2409.12533",  # 3D medical image segmentation
        "2505.19954",  # dementia diagnosis from brain MRI
        "2210.13889",  # disease trajectory from knee X-rays and clinical data
        "2303.06471",  # oncology: radiology, pathology and clinical records, a review
    ],
    "NLP and text": [
        "2212.13899",
        "2201.05337",
        "2106.08117",
        "2305.13817",
        "2209.12177",
        "2210.00640",
    ],
    "adversarial robustness": ["2306.01762", "2506.21046", "1710.07859", "2503.20454"],
    "vision backbones": ["2409.10594", "2303.02165", "2305.12972", "2103.00112"],
}
# How deep the interest's other papers may rank: right after the voted ones, except for medical
# imaging, where no text-feature model puts all three above a clinical-documents NLP paper that
# is medical in every word (docs/recommendations.md: liked, they rank 2nd, 5th and 6th of 54,
# below that paper, a facial-expression Mamba paper and an X-ray baggage-screening paper; 1 of
# the 20 choices of three liked papers has them on top, with the recipe as with ours). The
# criterion accepted for it (issue 27): within the top six, or disliked, the bottom six.
DEPTH = {"medical imaging": 6}
TABLE = ["medical imaging", "NLP and text", "adversarial robustness", "vision backbones"]


@pytest.fixture(scope="module")
def papers() -> dict[str, PaperText]:
    records = load_snapshot(listed_on=date(2026, 12, 4)).records
    return {
        r.arxiv_id: PaperText(arxiv_id=r.arxiv_id, title=r.title, abstract=r.abstract)
        for r in records
    }


@pytest.fixture(scope="module")
def space(papers):
    return feature_space_fit(window=list(papers.values()))


def _rest(papers, voted):
    return [paper for arxiv_id, paper in papers.items() if arxiv_id not in voted]


@pytest.mark.parametrize("interest", TABLE)
def test_likes_rank_the_interests_other_papers_above_the_rest(papers, space, interest):
    liked, others = INTERESTS[interest][:3], set(INTERESTS[interest][3:])
    rest = _rest(papers, liked)
    day = day_features_build(space=space, candidates=rest)
    model = reader_model_train(votes=[Vote(i, liked=True) for i in liked])

    order = reorder(day=day, model=model, voted=papers, papers=rest)

    assert sorted(order) == sorted(p.arxiv_id for p in rest)  # none removed
    depth = DEPTH.get(interest, len(others))
    assert others <= set(order[:depth]), [order.index(i) for i in others]
    picks = {pick.arxiv_id for pick in recommend(day=day, model=model, voted=papers, limit=depth)}
    if depth == len(others):
        assert picks == others
    else:  # the floor leaves out the weakest (the dementia paper: cosines 0.03 to 0.08)
        assert picks & others


@pytest.mark.parametrize("interest", TABLE)
def test_dislikes_rank_the_interests_other_papers_last(papers, space, interest):
    disliked, others = INTERESTS[interest][:3], set(INTERESTS[interest][3:])
    rest = _rest(papers, disliked)
    day = day_features_build(space=space, candidates=rest)
    model = reader_model_train(votes=[Vote(i, liked=False) for i in disliked])

    order = reorder(day=day, model=model, voted=papers, papers=rest)

    depth = DEPTH.get(interest, len(others))
    assert others <= set(order[-depth:]), [order.index(i) for i in others]
    # Dislikes alone recommend nothing: there is no liked paper to be similar to.
    assert recommend(day=day, model=model, voted=papers) == []


def test_reorder_without_a_model_or_signal_keeps_the_order(papers, space):
    rest = list(papers.values())[:10]
    day = day_features_build(space=space, candidates=rest)
    ids = [p.arxiv_id for p in rest]
    assert reorder(day=day, model=None, voted=papers, papers=rest) == ids
    unrelated = PaperText(arxiv_id="9999.00001", title="Sourdough baking", abstract="Rye flour.")
    model = reader_model_train(votes=[Vote(unrelated.arxiv_id, liked=True)])
    assert reorder(day=day, model=model, voted={unrelated.arxiv_id: unrelated}, papers=rest) == ids


def test_each_reason_is_the_liked_paper_nearest_to_the_recommendation(papers, space):
    liked = ["2305.00385", "2306.01762", "2212.13899"]  # three different interests
    rest = _rest(papers, liked)
    day = day_features_build(space=space, candidates=rest)
    model = reader_model_train(votes=[Vote(i, liked=True) for i in liked])

    picks = recommend(day=day, model=model, voted=papers, limit=8)

    assert len(picks) == 8
    liked_vectors = space.transform([papers[i] for i in liked]).toarray()
    reasons = set()
    for pick in picks:
        vector = space.transform([papers[pick.arxiv_id]]).toarray()[0]
        cosines = liked_vectors @ vector
        assert pick.because_of == liked[int(np.argmax(cosines))]
        assert pick.similarity == pytest.approx(float(cosines.max()), abs=1e-5)
        reasons.add(pick.because_of)
    assert len(reasons) > 1  # a mixed reader gets mixed reasons
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)


def test_recommendations_leave_out_the_email_and_the_voted_papers(papers, space):
    day = day_features_build(space=space, candidates=list(papers.values()))
    liked = INTERESTS["adversarial robustness"][:2]
    model = reader_model_train(votes=[Vote(i, liked=True) for i in liked])
    first = recommend(day=day, model=model, voted=papers, limit=3)
    already_sent = {first[0].arxiv_id}

    picks = recommend(day=day, model=model, voted=papers, exclude=already_sent, limit=3)

    ids = {p.arxiv_id for p in picks}
    assert len(picks) == 3
    assert not ids & (already_sent | set(liked))


def test_a_batch_gives_each_reader_what_they_would_get_alone(papers, space):
    day = day_features_build(space=space, candidates=list(papers.values()))
    models = {
        reader: reader_model_train(votes=[Vote(i, liked=True) for i in ids[:2]])
        for reader, ids in enumerate(INTERESTS.values())
    }
    batch = recommend_batch(day=day, models=models, voted=papers, limit=4)
    for reader, model in models.items():
        assert batch[reader] == recommend(day=day, model=model, voted=papers, limit=4)


def test_like_matches_are_the_brute_force_cosine_similarities(papers, space):
    candidates = list(papers.values())
    day = day_features_build(space=space, candidates=candidates)
    exemplar = papers["2409.10594"]  # Kolmogorov-Arnold Transformer

    matches = like_matches(day=day, exemplar=exemplar)

    # The same tf-idf vectors, compared in plain numpy.
    rows = space.transform(candidates).toarray().astype(np.float64)
    query = space.transform([exemplar]).toarray()[0].astype(np.float64)
    cosine = rows @ query / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query))
    expected = sorted(
        (
            (p.arxiv_id, c)
            for p, c in zip(candidates, cosine, strict=True)
            if c >= LIKE_THRESHOLD and p.arxiv_id != exemplar.arxiv_id
        ),
        key=lambda m: -m[1],
    )
    assert [m[0] for m in matches] == [e[0] for e in expected]
    assert [m[1] for m in matches] == pytest.approx([e[1] for e in expected], abs=1e-5)
    assert 0 < len(matches) < len(candidates) // 2


def test_the_model_is_retrained_only_when_the_votes_change():
    votes = {"ada": [Vote("2305.00385", True), Vote("2206.04246", True)], "bob": [Vote("1", False)]}
    first = reader_models_refresh(votes_by_reader=votes, stored={})
    assert sorted(first.retrained) == ["ada", "bob"]

    # Stored as JSON and read back: same votes (in any order), nothing retrained.
    stored = {
        r: ReaderModel.from_dict(json.loads(json.dumps(m.to_dict())))
        for r, m in first.models.items()
    }
    same = {"ada": list(reversed(votes["ada"])), "bob": votes["bob"]}
    second = reader_models_refresh(votes_by_reader=same, stored=stored)
    assert second.retrained == [] and second.dropped == []
    assert second.models == stored

    # Ada turns a like into a dislike, Bob removes his only vote.
    changed = {"ada": [Vote("2305.00385", True), Vote("2206.04246", False)]}
    third = reader_models_refresh(votes_by_reader=changed, stored=stored)
    assert third.retrained == ["ada"] and third.dropped == ["bob"]
    assert third.models["ada"].coefficients["2206.04246"] < 0
    assert third.models["ada"].liked == ("2305.00385",)


def test_readers_without_votes_have_no_model_and_bad_stored_data_is_refused():
    assert reader_model_train(votes=[]) is None
    with pytest.raises(ValueError, match="not a stored reader model"):
        ReaderModel.from_dict({"fingerprint": "x", "coefficients": {"2305.00385": "much"}})


def test_paper_text_reads_a_paper_its_authors_and_hugging_faces_summary_and_keywords():
    paper = Paper(
        arxiv_id="2409.10594",
        title="Kolmogorov-Arnold Transformer",
        abstract="KAN layers.",
        authors=["Xingyi Yang", "Xinchao Wang"],
        categories=["cs.LG", "cs.CV"],
        keywords=["rational functions", "group-KAN"],
        ai_summary="Replaces MLPs with KANs.",
    )
    assert paper_text(paper).document == (
        "Kolmogorov-Arnold Transformer rational functions, group-KAN Replaces MLPs with KANs. "
        "KAN layers. Xingyi Yang Xinchao Wang"
    )


def test_hugging_faces_keywords_make_papers_similar_that_share_no_other_word(papers):
    """Two papers on one field in different words: only their AI keywords can bring one
    to a reader who likes the other."""
    mri = Paper(
        arxiv_id="2601.00001",
        title="Prostate lesions in bi-parametric MRI",
        abstract="A detector for clinically significant lesions.",
        keywords=["medical image segmentation"],
    )
    xray = Paper(
        arxiv_id="2601.00002",
        title="Chest radiographs with fourteen findings",
        abstract="A multi-label classifier.",
        keywords=["medical image segmentation"],
    )
    listing = list(papers.values())
    bare = [PaperText(p.arxiv_id, p.title, p.abstract) for p in (mri, xray)]
    tagged = [paper_text(mri), paper_text(xray)]
    for window, similar in ((bare, False), (tagged, True)):
        space = feature_space_fit(window=listing + window)
        day = day_features_build(space=space, candidates=listing + window)
        matches = dict(like_matches(day=day, exemplar=window[0]))
        assert (xray.arxiv_id in matches) is similar, matches


def test_a_batch_reorders_each_section_as_alone_even_papers_of_earlier_days(papers, space):
    ids = list(papers)
    day = day_features_build(space=space, candidates=[papers[i] for i in ids[:30]])
    models = {
        reader: reader_model_train(votes=[Vote(i, liked=True) for i in interest[:2]])
        for reader, interest in enumerate(INTERESTS.values())
    }
    # Each section mixes the day's papers with papers of earlier days (not in the day matrix).
    sections = {r: [papers[i] for i in ids[r * 5 : r * 5 + 10] + ids[40 + r :: 4]] for r in models}

    batch = reorder_batch(day=day, models=models, voted=papers, sections=sections)

    for reader, model in models.items():
        alone = reorder(day=day, model=model, voted=papers, papers=sections[reader])
        assert batch[reader] == alone
        assert sorted(alone) == sorted(p.arxiv_id for p in sections[reader])
        # The same order from the vectors in plain numpy, stable for equal scores.
        voted_ids = list(model.coefficients)
        weights = np.array([model.coefficients[i] for i in voted_ids])
        voted_rows = space.transform([papers[i] for i in voted_ids]).toarray()
        shown_rows = space.transform(sections[reader]).toarray()
        scores = weights @ (voted_rows @ shown_rows.T)
        expected = sorted(range(len(scores)), key=lambda n: (-round(scores[n], 5), n))
        assert alone == [sections[reader][n].arxiv_id for n in expected]


def test_past_the_cache_limit_results_are_the_same(papers, space, monkeypatch):
    liked = INTERESTS["NLP and text"][:2]
    model = reader_model_train(votes=[Vote(i, liked=True) for i in liked])
    rest = _rest(papers, liked)
    cached = day_features_build(space=space, candidates=rest)
    expected = recommend(day=cached, model=model, voted=papers)

    monkeypatch.setattr("digest.recommend.ranking.CACHE_LIMIT", 0)
    uncached = day_features_build(space=space, candidates=rest)

    assert recommend(day=uncached, model=model, voted=papers) == expected
    assert reorder(day=uncached, model=model, voted=papers, papers=rest) == reorder(
        day=cached, model=model, voted=papers, papers=rest
    )
    assert uncached._rows == {} and uncached._vectors == {}


@pytest.mark.parametrize(
    ("first_title", "second_title"),
    [
        # No word in common as written: "clinically"/"clinical", "forecasting"/"forecast",
        # "diseases"/"disease", "MRIs"/"MRI".
        ("Clinically forecasting diseases from MRIs", "Clinical forecast of a disease in an MRI"),
        # Forms a stemmer keeps apart (Snowball: "diagnost"/"diagnosi", "clinician"/"clinic",
        # "radiologist"/"radiolog"), which the word prefixes join.
        ("Diagnostic aids for clinicians and radiologists", "Clinical diagnosis in radiology"),
    ],
)
def test_papers_that_differ_only_in_word_forms_are_alike(papers, first_title, second_title):
    first = PaperText(arxiv_id="9999.00001", title=first_title)
    second = PaperText(arxiv_id="9999.00002", title=second_title)
    space = feature_space_fit(window=[*papers.values(), first, second])
    day = day_features_build(space=space, candidates=[*papers.values(), second])

    matches = dict(like_matches(day=day, exemplar=first))

    assert matches["9999.00002"] >= LIKE_THRESHOLD
    assert max(matches, key=matches.__getitem__) == "9999.00002"
