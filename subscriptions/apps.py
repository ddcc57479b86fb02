from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self) -> None:
        post_migrate.connect(create_cache_tables, sender=self)


def create_cache_tables(*, using: str, verbosity: int = 1, **kwargs: Any) -> None:
    """`migrate` also creates the database cache table(s) CACHES names (the rate limits live in
    the cache: without its table the first signup is a 500).

    A post_migrate hook rather than a migration: it follows CACHES as it is at each `migrate`
    (a site that moves from Redis to the database cache gets its table on the next release),
    and createcachetable skips a table that exists and a database the routers exclude.
    """
    call_command("createcachetable", database=using, verbosity=max(0, verbosity - 1))
