"""A reader's papers to take elsewhere: what they liked and what they follow, as citation
records (digest.papers.citations writes them as BibTeX or CSL-JSON).

"Less like this" votes are left out: they teach the recommendations, they are not references a
reader wants in Zotero. Follows count whether running or expired: the reader chose the paper.
"""

from __future__ import annotations

from django.db.models import Q

from digest.models import Paper
from digest.papers.citations import CitationRecord, citation_record
from subscriptions.models import Subscriber, Vote


def papers_to_export(*, subscriber: Subscriber) -> list[CitationRecord]:
    """Liked and followed papers, newest first, each once (one query)."""
    liked = Q(votes__subscriber=subscriber, votes__value=Vote.Value.LIKE)
    followed = Q(follows__subscriber=subscriber)
    papers = Paper.objects.filter(liked | followed).distinct().order_by("-listed_on", "arxiv_id")
    return [citation_record(paper) for paper in papers]
