"""Following: the daily refresh of the papers readers follow.

In: the papers someone still follows (:mod:`subscriptions.feedback.selectors`), their arXiv
versions (`id_list`) and Hugging Face pages (:mod:`digest.sources`). Out: PaperEvents on those
papers through :mod:`digest.papers.ingest` (code released, new version, trending, upvotes), and
the follows of withdrawn papers ended. A stage above :mod:`subscriptions`, since it reads whose
follows are running; composing tells each follower the events (:mod:`digest.composing.selection`).
"""
