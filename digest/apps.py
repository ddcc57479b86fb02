from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Digest"

    def ready(self) -> None:
        # Connects the provider's tracking receivers (bounces, complaints, unsubscribes) and
        # registers the webhook's configuration check.
        from digest import deploy_checks  # noqa: F401  (DEBUG=0: .env.example's traps)
        from digest.delivery import webhooks  # noqa: F401
        from digest.web import webhooks as webhook_views  # noqa: F401
