"""Readers: who subscribes, to what, and their consent.

In: what a reader typed (an address, topics, a schedule) or clicked (a signed link), and an
editor's subscriber import. Out: Subscriber and Topic rows in their states (pending, active,
paused, unsubscribed, bounced, complained), Suppression rows, and the one-off emails that carry
a reader's links. :mod:`.services` changes a reader's state (signup, confirm, preferences,
unsubscribe, suppress) and sends their emails; :mod:`.tokens` signs and reads their links;
:mod:`.time_zones` names the zones they may pick; :mod:`.importing` reads an editor's CSV;
:mod:`.retention` purges and erases; :mod:`.tasks` queues what goes out by mail; :mod:`.feeds`
signs, reads and renews the private feed's address and records how the digest reaches the
reader (email, feed, both).
"""
