"""Composing a digest: one reader's email for one day, from the day's papers to its bytes.

In: Paper rows and the trending order (:mod:`digest.papers`), the reader's topics matched by
:mod:`digest.topics`, and what was already sent to them. Out: a :class:`.mime.DigestMessage`
ready for a mail backend. :mod:`.selection` picks each section's papers with their reasons,
:mod:`.render` holds the Jinja2 environment and premailer, :mod:`.assemble` puts an email together
from parts inlined once per day, :mod:`.build` makes the message with its links and headers, and
:mod:`.mime` writes its bytes. Everything many readers share is computed once per day.
"""
