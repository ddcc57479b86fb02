"""Papers in: the listing sources' records become Paper rows, which editors curate.

In: the plain records of :mod:`digest.sources` (a day's Hugging Face listing or arXiv's new
submissions) and the editors' decisions from the admin. Out: Paper rows upserted on the arXiv id
(:mod:`.ingest`), a FetchRun per fetch (:mod:`.fetching`), CurationChange rows for each decision
(:mod:`.curation`), and the reads every later stage starts from: the current listing day and the
trending order (:mod:`.selectors`).
"""
