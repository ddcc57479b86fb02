"""Subscribers in the editors' admin: find them, act on their status, export and import, and see
the digest each would get.

In: an editor's requests. Out: calls to :mod:`subscriptions.readers` for every change of status
(:mod:`.services`: suppress, reactivate, resend a confirmation, export rows), and the digest
preview and test send (:mod:`.previews`, built by :mod:`digest.composing`). :mod:`.subscribers`
is the ModelAdmin; importing this package registers it (Django's admin autodiscovery).
"""

from subscriptions.admin import subscribers  # noqa: F401  (registers SubscriberAdmin)
