"""Recommendation cost: retraining 20,000 readers' models and scoring a 1,000-paper day.

Synthetic but realistic-length papers (sentences of the bundled listing's abstracts, shuffled),
a 3,000-paper window whose last 1,000 are the day; 100,000 readers of whom 20% have 1 to 30
votes (three likes in four) on papers of the window. Prints: the daily feature fit, the cold
retrain of every model, a warm day (5% of the readers voted again: the rest is a fingerprint
check), and the digest build's recommendation work in send batches of 1,000 readers (Recommended
section for each reader with votes, and their topic section of 10 papers reordered), per reader
and in total, with the peak RSS. Targets (issue 17): retrain under 5 minutes; the whole digest
build for 100,000 readers under 60 s in two processes, under 1 GB per process.
Usage: python bench/recommend_train.py [--readers 100000] [--window 3000] [--day 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--voting-share", type=float, default=0.2)
    parser.add_argument("--window", type=int, default=3000)
    parser.add_argument("--day", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from support.django_env import peak_rss_mb

    from digest.recommend import (
        PaperText,
        Vote,
        day_features_build,
        feature_space_fit,
        reader_models_refresh,
        recommend_batch,
        reorder_batch,
    )
    from digest.sources.snapshot import load_snapshot

    rng = random.Random(17)
    records = load_snapshot(listed_on=date(2026, 12, 4)).records
    sentences = [s for r in records for s in re.split(r"(?<=\.)\s+", r.abstract) if len(s) > 40]
    title_words = [word for r in records for word in r.title.split()]
    window = [
        PaperText(
            arxiv_id=f"2612.{n:05d}",
            title=" ".join(rng.sample(title_words, 8)),
            abstract=" ".join(rng.sample(sentences, 7)),
            authors=(f"Author {rng.randrange(20_000)}", f"Author {rng.randrange(20_000)}"),
        )
        for n in range(args.window)
    ]
    by_id = {paper.arxiv_id: paper for paper in window}
    voters = int(args.readers * args.voting_share)
    votes = {
        reader: [
            Vote(paper.arxiv_id, liked=rng.random() < 0.75)
            for paper in rng.sample(window, rng.randint(1, 30))
        ]
        for reader in range(voters)
    }
    print(
        f"{args.window} papers in the window, {args.day} today, {args.readers} readers, "
        f"{voters} with votes ({sum(map(len, votes.values()))} votes)"
    )

    started = time.perf_counter()
    space = feature_space_fit(window=window)
    day_papers = window[-args.day :]
    day = day_features_build(space=space, candidates=day_papers)
    print(f"daily features: {time.perf_counter() - started:.2f} s ({space.size} terms)")

    started = time.perf_counter()
    cold = reader_models_refresh(votes_by_reader=votes, stored={})
    cold_s = time.perf_counter() - started
    print(f"retrain, cold: {len(cold.retrained)} models in {cold_s:.2f} s (target < 300 s)")
    for reader in rng.sample(sorted(votes), voters // 20):
        votes[reader] = [*votes[reader][1:], Vote(rng.choice(window).arxiv_id, True)]
    started = time.perf_counter()
    warm = reader_models_refresh(votes_by_reader=votes, stored=cold.models)
    print(
        f"retrain, a day with 5% of voters voting: {len(warm.retrained)} retrained, "
        f"{len(warm.models) - len(warm.retrained)} kept, {time.perf_counter() - started:.2f} s"
    )

    models = warm.models
    started = time.perf_counter()
    sections = reordered = 0
    recommend_s = 0.0
    for first in range(0, args.readers, args.batch):
        batch = [r for r in range(first, first + args.batch) if r in models]
        batch_models = {r: models[r] for r in batch}
        # What a batch loads in one query: the texts of every paper its readers voted on.
        voted = {i: by_id[i] for m in batch_models.values() for i in m.coefficients}
        batch_started = time.perf_counter()
        picks = recommend_batch(day=day, models=batch_models, voted=voted, limit=5)
        recommend_s += time.perf_counter() - batch_started
        sections += sum(1 for p in picks.values() if p)
        topic_sections = {reader: rng.sample(day_papers, 10) for reader in batch}
        reorder_batch(day=day, models=batch_models, voted=voted, sections=topic_sections)
        reordered += len(batch)
    total = time.perf_counter() - started
    print(
        f"scoring: {len(models)} readers with votes in {total:.2f} s, "
        f"{total / max(len(models), 1) * 1000:.3f} ms per reader with votes "
        f"(Recommended section + topic section reordered; {sections} non-empty sections); "
        f"readers without votes cost nothing"
    )
    print(
        f"  of which Recommended sections {recommend_s:.2f} s, "
        f"topic sections reordered {total - recommend_s:.2f} s"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
