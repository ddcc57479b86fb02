"""Emails, below both apps: the Jinja2 environment and premailer, one-off emails, absolute URLs.

In: a template prefix under ``templates/email/`` and its context. Out: a
:class:`.render.RenderedEmail` (subject, text, inlined HTML). :mod:`.render` is what the digest
(:mod:`digest.composing`) and the reader's one-off emails (:mod:`subscriptions`: confirmation,
manage and Follow links) share; :mod:`.links` makes the absolute URLs they carry.
"""
