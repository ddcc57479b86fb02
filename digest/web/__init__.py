"""The public web pages of the digest: home (today's trending papers), the web archive of a day's
public digest, a paper's page (with its citation tags and BibTeX), a reader's "view in browser"
page, the Atom feeds (:mod:`.feeds`: a reader's private feed, the trending feed), and the health
check.

In: the reads of :mod:`digest.papers` and the day renderer of :mod:`digest.composing`. Out: HTTP
responses. Signup, confirmation, preferences and unsubscribe pages live in the `subscriptions` app.
"""
