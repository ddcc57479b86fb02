"""Recommendations: what a reader's votes say about the day's papers.

In: the texts of the recommendation window's papers (title, abstract, authors, Hugging Face's
`ai_summary` and `ai_keywords` where it has them), once a day; each reader's votes (arXiv id,
liked or not). Out: per reader a small serialisable :class:`ReaderModel` (retrained only when
the votes change), the day's candidates ranked for that reader with the liked paper each one is
nearest to (the reason), the topic section reordered without removing anything, and
`like:<arXiv id>` matches.

A stage before composing: it imports :class:`digest.models.Paper` and libraries, nothing else of
`digest`. Features in :mod:`digest.recommend.features`, models in
:mod:`digest.recommend.readers`, scoring in :mod:`digest.recommend.ranking`.
"""

from digest.recommend.features import FeatureSpace, PaperText, feature_space_fit, paper_text
from digest.recommend.ranking import (
    LIKE_THRESHOLD,
    RECOMMEND_FLOOR,
    DayFeatures,
    Recommendation,
    day_features_build,
    like_matches,
    recommend,
    recommend_batch,
    reorder,
    reorder_batch,
)
from digest.recommend.readers import (
    ReaderModel,
    RefreshResult,
    Vote,
    reader_model_train,
    reader_models_refresh,
    votes_fingerprint,
)
from digest.recommend.window import WindowFeatures

__all__ = [
    "LIKE_THRESHOLD",
    "RECOMMEND_FLOOR",
    "DayFeatures",
    "FeatureSpace",
    "PaperText",
    "ReaderModel",
    "Recommendation",
    "RefreshResult",
    "Vote",
    "WindowFeatures",
    "day_features_build",
    "feature_space_fit",
    "like_matches",
    "paper_text",
    "reader_model_train",
    "reader_models_refresh",
    "recommend",
    "recommend_batch",
    "reorder",
    "reorder_batch",
    "votes_fingerprint",
]
