"""Delivery out: who is due today, and sending each of them one digest, exactly once.

In: subscribers whose delivery hour has come, and the messages :mod:`digest.composing` builds.
Out: Delivery rows moved `queued -> sending -> sent | failed | rejected | suppressed`, and the
messages handed to a mail backend. :mod:`.planning` finds who is due, :mod:`.batch` plans a day's
rows and is the batch tasks' entry point, :mod:`.sender` sends one batch over one connection,
:mod:`.claims` holds the row writes, :mod:`.mail_backends` the outbox and SMTP backends,
:mod:`.send_rate` the global rate and :mod:`.sending_errors` what each error means for the row.
A feed-only reader's row is built and marked `sent` (message id "feed") with no message;
:mod:`.published` reads the `sent` rows back as the entries of a reader's private feed.
"""
