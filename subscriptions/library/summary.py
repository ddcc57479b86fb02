"""A large library summarised by a few of its papers, so the daily build stays in budget.

The reader's model is the mean of their liked papers' vectors (Rocchio, digest.recommend.readers);
a library of 2,000 papers would cost 2,000 texts to vectorise and 2,000 similarity rows per day.
Up to `LIBRARY_POSITIVES_MAX` papers every paper is its own representative (weight 1). Past it
the library is clustered (k-means over its own tf-idf, k = `LIBRARY_POSITIVES_MAX`) and each
cluster is represented by its medoid, the paper nearest the cluster's centre, weighted by the
cluster's size: the weighted mean of the medoids approximates the mean of the whole library,
and every subject of the library (a cluster) keeps a real paper to name in a reason ("Similar
to <its title> from your library"). Recomputed after each import and removal, not daily: the
clusters do not depend on the day's vocabulary.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from subscriptions.models import LibraryPaper, Subscriber


def positives_max() -> int:
    return int(settings.LIBRARY_POSITIVES_MAX)


def library_summarise(*, subscriber: Subscriber) -> int:
    """Set the weights of the reader's library papers; returns how many represent it."""
    papers = list(
        LibraryPaper.objects.filter(subscriber=subscriber).only(
            "pk", "title", "abstract", "authors", "weight"
        )
    )
    limit = positives_max()
    weights = {paper.pk: 1.0 for paper in papers}
    if len(papers) > limit:
        weights = _medoids(papers, limit)
    changed = [p for p in papers if p.weight != weights.get(p.pk, 0.0)]
    for paper in changed:
        paper.weight = weights.get(paper.pk, 0.0)
    LibraryPaper.objects.bulk_update(changed, ["weight"], batch_size=500)
    return sum(1 for weight in weights.values() if weight > 0)


def _medoids(papers: list[LibraryPaper], k: int) -> dict[int, float]:
    documents = [
        " ".join((p.title, p.abstract, " ".join(map(str, p.authors or ())))) for p in papers
    ]
    vectorizer = TfidfVectorizer(
        stop_words="english", sublinear_tf=True, min_df=1, max_df=0.5, dtype=np.float32
    )
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # nothing but stop words: no clusters to find
        return {p.pk: 1.0 for p in papers[:k]}
    # n_init=1 and a fixed seed: the same library always gets the same representatives.
    clusters = KMeans(n_clusters=k, n_init=1, random_state=0).fit(matrix)
    weights: dict[int, float] = {}
    for cluster in range(k):
        members = np.flatnonzero(clusters.labels_ == cluster)
        if not len(members):
            continue
        centre = clusters.cluster_centers_[cluster]
        nearest = members[int(np.argmax(matrix[members] @ centre))]
        weights[papers[nearest].pk] = float(len(members))
    return weights
