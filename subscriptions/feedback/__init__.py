"""Feedback: what readers tell the digest from its cards, and what the pipeline reads of it.

In: a signed vote or Follow link from a reader's own email, or an address typed into a paper's
archive page. Out: Vote and Follow rows (one per reader and paper), the Follow-link email, and the
reads the pipeline makes per batch or day. :mod:`.votes` writes a Vote ("More / Less like this")
and suggests topics from the paper; :mod:`.follows` starts, renews and ends a Follow;
:mod:`.follow_links` mails a subscriber their Follow link; :mod:`.selectors` is what the pipeline
calls (a batch's votes and follows, the papers still followed); :mod:`.tasks` queues the mail.
"""
