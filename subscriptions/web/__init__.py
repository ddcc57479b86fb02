"""The reader's pages. No accounts: a signed link in an email is the reader's key.

In: HTTP requests from a reader's browser (or a mail provider's one-click unsubscribe). Out: calls
to :mod:`subscriptions.readers` and :mod:`subscriptions.feedback`, and pages. :mod:`.signup`:
subscribe (with the live topic :mod:`.preview`), check your inbox, a new link, confirm;
:mod:`.manage`: the manage page, unsubscribe, resubscribe, erase, unfollow; :mod:`.feedback`: the
cards' vote and Follow pages; :mod:`.export`: liked and followed papers as BibTeX or CSL-JSON.
:mod:`.forms` parse what was typed, :mod:`.ratelimits` and
:mod:`.client_ip` keep the forms from being abused, :mod:`.pages` holds what the pages share, and
:mod:`.urls` names the routes emails link to.
"""
