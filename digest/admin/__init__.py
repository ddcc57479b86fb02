"""The editors' curation panel, registered on Django's default admin site.

papers: the Paper list, one-click curation, Today's digest; runs: fetch runs; deliveries: the
delivery log; site: rate-limited login and the dashboard on the index page.
"""

from django.contrib import admin

from digest.admin import deliveries, papers, runs, site

site.install(admin.site)

__all__ = ["deliveries", "papers", "runs", "site"]
