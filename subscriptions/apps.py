from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self) -> None:
        # Connects the anymail receivers; registers the webhook's configuration check.
        from subscriptions import webhook_views, webhooks  # noqa: F401
