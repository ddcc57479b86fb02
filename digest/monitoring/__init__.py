"""Watching the pipeline: the admin dashboard's figures and the daily health report.

In: FetchRun, Delivery and DeliveryEvent rows of every earlier stage. Out: the figures and
warnings the admin dashboard shows (:mod:`.dashboard`), and an error log line plus a mail to
ADMINS when a day's fetch or send did not happen (:mod:`.health`).
"""
