"""Offline evaluation of the recommendations on the bundled listing, and the `like:` threshold.

Protocol (issue 17): split the listing's 57 papers at random into two days; a simulated reader
likes two or three papers of one interest on the first day and dislikes one or two others; the
Recommended section on the second day (the candidate pool) is scored by precision at
k = min(5, that interest's papers left on day two). Interests are labelled by hand in
`bench/data/recommend_interests.json` (committed before any model was run; "dev" interests were
looked at while choosing settings, the others are held out and printed apart). Printed side by
side on the same splits: ours (`digest.recommend`), arxiv-sanity-lite's recipe (its tf-idf
settings, `LinearSVC(C=0.01, class_weight="balanced")`, likes only, every other paper of the
window a negative; its `min_df=5` would leave no terms in 57 papers, so `min_df=1`) and random.
The feature space is fitted over both days (the recommendation window), as the daily job does.

`--seed-choices` repeats the model test (`tests/digest/test_recommend.py`: a reader likes three
papers of an interest; do the interest's other papers rank above the rest of the listing?) for
every choice of three liked papers among each interest's, not only the first three, and prints
in how many choices they all do, ours and the recipe's.

`--library N` (0, 2, 5 or `all`) gives the reader a reference library of N of the interest's
day-one papers besides the votes (issue 27): positives are the likes and the library, for ours
(`reader_model_train(votes=..., library=...)`) and for the recipe alike.

`--calibrate-floor` runs the `--library` protocol without the Recommended section's similarity
floor and prints, for floors t, the precision of the recommendations whose nearest liked or
library paper has a cosine of at least t, how many of the relevant ones stay, and how many
sections go empty (the floor in digest.recommend.ranking.RECOMMEND_FLOOR).

`--calibrate-like` prints, for every pair of papers of the listing, how well "cosine similarity
at least t" separates pairs that share an interest from pairs that do not, and the t with the
best F1 (precision matters in an email: a `like:` topic should not flood the digest).

Usage: python bench/recommend_eval.py [--splits 300] [--seed 17] [--library N]
       [--seed-choices | --calibrate-like | --calibrate-floor]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INTERESTS = ROOT / "bench" / "data" / "recommend_interests.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=300, help="splits per interest")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--seed-choices", action="store_true")
    parser.add_argument("--calibrate-like", action="store_true")
    parser.add_argument("--calibrate-floor", action="store_true")
    parser.add_argument(
        "--library", default="0", help="library size: a number of day-one papers, or all"
    )
    args = parser.parse_args()
    library = None if args.library == "all" else int(args.library)
    papers = _listing()
    interests = json.loads(INTERESTS.read_text())["interests"]
    if args.calibrate_like:
        _calibrate_like(papers, interests)
        return 0
    if args.seed_choices:
        _seed_choices(papers, interests)
        return 0
    _evaluate(
        papers,
        interests,
        splits=args.splits,
        seed=args.seed,
        library_size=library,
        calibrate_floor=args.calibrate_floor,
    )
    return 0


def _listing():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from digest.recommend import PaperText
    from digest.sources.snapshot import load_snapshot

    listing = load_snapshot(listed_on=date(2026, 12, 4))
    return [
        PaperText(arxiv_id=r.arxiv_id, title=r.title, abstract=r.abstract, authors=r.authors)
        for r in listing.records
    ]


def _recipe_features(papers):
    """arxiv-sanity-lite's tf-idf, fitted over the window (`min_df=1`: see the docstring)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        strip_accents="unicode",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_df=0.1,
        min_df=1,
        norm="l2",
        sublinear_tf=True,
    ).fit_transform([paper.document for paper in papers])


def _recipe_order(recipe_x, ids, *, liked, candidates) -> list[str]:
    """The candidates as the recipe ranks them: `LinearSVC(C=0.01, class_weight="balanced")`
    trained on the liked papers against every other paper of the window, best first."""
    from sklearn.svm import LinearSVC

    y = np.array([1 if i in liked else 0 for i in ids])
    svm = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6)
    decision = dict(zip(ids, svm.fit(recipe_x, y).decision_function(recipe_x), strict=True))
    return sorted(candidates, key=lambda i: -decision[i])


def _evaluate(
    papers, interests, *, splits: int, seed: int, library_size: int | None, calibrate_floor: bool
) -> None:
    from digest.recommend import (
        RECOMMEND_FLOOR,
        Vote,
        day_features_build,
        feature_space_fit,
        reader_model_train,
        recommend,
    )

    by_id = {paper.arxiv_id: paper for paper in papers}
    ids = [paper.arxiv_id for paper in papers]
    # Both features are fitted over the whole window, once, as the daily job does.
    space = feature_space_fit(window=papers)
    recipe_x = _recipe_features(papers)
    rng = random.Random(seed)
    table: dict[str, dict[str, list[float]]] = {}
    # --calibrate-floor: (nearest positive's cosine, relevant?) of every pick, and per split
    # the picks' cosines (to count the sections a floor would empty).
    observed: list[tuple[float, bool]] = []
    sections: list[list[float]] = []
    floor = 0.0 if calibrate_floor else None
    for name, interest in interests.items():
        relevant = set(interest["ids"])
        scores: dict[str, list[float]] = {"ours": [], "recipe": [], "random": []}
        attempts = 0
        while len(scores["ours"]) < splits and attempts < splits * 50:
            attempts += 1
            shuffled = ids[:]
            rng.shuffle(shuffled)
            day1, day2 = shuffled[: len(ids) // 2], shuffled[len(ids) // 2 :]
            first = [i for i in day1 if i in relevant]
            left = [i for i in day2 if i in relevant]
            if len(first) < 2 or not left:
                continue
            likes = rng.sample(first, min(len(first), rng.choice([2, 3])))
            dislikes = rng.sample([i for i in day1 if i not in relevant], rng.choice([1, 2]))
            k = min(5, len(left))
            votes = [Vote(i, True) for i in likes] + [Vote(i, False) for i in dislikes]
            # The library: N of the interest's day-one papers (the likes may be among them).
            library = (
                first if library_size is None else rng.sample(first, min(library_size, len(first)))
            )
            model = reader_model_train(votes=votes, library=dict.fromkeys(library, 1.0))
            assert model is not None
            day = day_features_build(space=space, candidates=[by_id[i] for i in day2])
            picks = recommend(
                day=day,
                model=model,
                voted=by_id,
                limit=k,
                floor=RECOMMEND_FLOOR if floor is None else floor,
            )
            scores["ours"].append(sum(p.arxiv_id in relevant for p in picks) / k)
            observed.extend((p.similarity, p.arxiv_id in relevant) for p in picks)
            sections.append([p.similarity for p in picks])
            positives = set(likes) | set(library)
            rank = _recipe_order(recipe_x, ids, liked=positives, candidates=day2)[:k]
            scores["recipe"].append(sum(i in relevant for i in rank) / k)
            scores["random"].append(sum(i in relevant for i in rng.sample(day2, k)) / k)
        table[name] = scores
        print(
            f"{name:24s} {'dev ' if interest['dev'] else 'held'} n={len(relevant)} "
            f"splits={len(scores['ours']):4d}  "
            + "  ".join(f"{m}={np.mean(v):.3f}" for m, v in scores.items()),
            flush=True,
        )
    for label, names in (
        ("dev", [n for n in table if interests[n]["dev"]]),
        ("held out", [n for n in table if not interests[n]["dev"]]),
        ("all", list(table)),
    ):
        means = {m: np.mean([np.mean(table[n][m]) for n in names]) for m in table[names[0]]}
        print(
            f"p@k mean over {label:8s} interests ({len(names):2d}): "
            + "  ".join(f"{m}={v:.3f}" for m, v in means.items())
        )
    if calibrate_floor:
        _floor_table(observed, sections)


def _floor_table(observed: list[tuple[float, bool]], sections: list[list[float]]) -> None:
    cosines = np.array([c for c, _ in observed])
    relevant = np.array([r for _, r in observed])
    print("floor  precision  relevant kept  picks kept  sections empty")
    for floor in np.arange(0.0, 0.301, 0.02):
        kept = cosines >= floor
        precision = relevant[kept].mean() if kept.any() else 0.0
        empty = np.mean([not any(c >= floor for c in section) for section in sections])
        print(
            f"{floor:5.2f}  {precision:9.3f}  {relevant[kept].sum() / relevant.sum():13.3f}"
            f"  {kept.mean():10.3f}  {empty:14.3f}"
        )


def _seed_choices(papers, interests) -> None:
    from digest.recommend import (
        Vote,
        day_features_build,
        feature_space_fit,
        reader_model_train,
        reorder,
    )

    by_id = {paper.arxiv_id: paper for paper in papers}
    ids = list(by_id)
    space = feature_space_fit(window=papers)
    recipe_x = _recipe_features(papers)
    print(
        "interest                 choices  all on top: ours recipe  median worst rank: ours recipe"
    )
    for name, interest in interests.items():
        if len(interest["ids"]) < 4:
            continue
        on_top = {"ours": 0, "recipe": 0}
        worst: dict[str, list[int]] = {"ours": [], "recipe": []}
        choices = list(itertools.combinations(interest["ids"], 3))
        for liked in choices:
            others = set(interest["ids"]) - set(liked)
            rest = [paper for paper in papers if paper.arxiv_id not in liked]
            model = reader_model_train(votes=[Vote(i, True) for i in liked])
            day = day_features_build(space=space, candidates=rest)
            orders = {"ours": reorder(day=day, model=model, voted=by_id, papers=rest)}
            orders["recipe"] = _recipe_order(
                recipe_x, ids, liked=liked, candidates=[p.arxiv_id for p in rest]
            )
            for method, order in orders.items():
                rank = max(order.index(i) + 1 for i in others)
                worst[method].append(rank)
                on_top[method] += rank == len(others)
        print(
            f"{name:24s} {len(choices):7d}  {'':11s}{on_top['ours']:5d} {on_top['recipe']:6d}"
            f"  {'':18s}{np.median(worst['ours']):5.1f} {np.median(worst['recipe']):6.1f}",
            flush=True,
        )


def _calibrate_like(papers, interests) -> None:
    from digest.recommend import day_features_build, feature_space_fit

    space = feature_space_fit(window=papers)
    day = day_features_build(space=space, candidates=papers)
    similarity = day.similarities(papers)
    labels = {
        p.arxiv_id: {n for n, it in interests.items() if p.arxiv_id in it["ids"]} for p in papers
    }
    same: list[float] = []
    other: list[float] = []
    for a in range(len(papers)):
        for b in range(a + 1, len(papers)):
            shared = labels[papers[a].arxiv_id] & labels[papers[b].arxiv_id]
            (same if shared else other).append(float(similarity[a, b]))
    same_a, other_a = np.array(same), np.array(other)
    print(f"pairs sharing an interest: {len(same)}, others: {len(other)}")
    print(
        f"cosine, same interest: median {np.median(same_a):.3f}  others: median "
        f"{np.median(other_a):.3f}, 95th percentile {np.percentile(other_a, 95):.3f}"
    )
    best = (0.0, 0.0)
    print("threshold  precision  recall  F1")
    for threshold in np.arange(0.01, 0.301, 0.01):
        tp = int((same_a >= threshold).sum())
        fp = int((other_a >= threshold).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / len(same_a)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        print(f"{threshold:9.2f}  {precision:9.3f}  {recall:6.3f}  {f1:.3f}")
        if f1 > best[1]:
            best = (float(threshold), f1)
    print(f"best F1 {best[1]:.3f} at cosine >= {best[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
