"""factory_boy factories shared by the whole suite."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from digest.models import Delivery, Paper
from subscriptions.models import Subscriber, Topic


class PaperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Paper
        django_get_or_create = ("arxiv_id",)

    arxiv_id = factory.Sequence(lambda n: f"2511.{10000 + n:05d}")
    title = factory.Sequence(lambda n: f"Paper number {n} on representation learning")
    abstract = "We study how models learn useful representations from unlabeled data."
    authors = factory.LazyFunction(lambda: ["Ada Lovelace", "Alan Turing"])
    author_count = 2
    categories = factory.LazyFunction(lambda: ["cs.LG"])
    primary_category = "cs.LG"
    listed_on = factory.LazyFunction(lambda: timezone.localdate())
    published_at = factory.LazyFunction(timezone.now)
    upvotes = 0
    sources = "hf"


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    status = Subscriber.Status.ACTIVE
    requested_at = factory.LazyFunction(timezone.now)
    confirmed_at = factory.LazyFunction(timezone.now)
    consent_source = "form"
    delivery_hour = 7
    timezone = "UTC"

    @factory.post_generation
    def topics(
        obj: Subscriber,  # factory_boy passes the built instance
        create: bool,
        extracted: list[str] | None,
        **kwargs: object,
    ) -> None:
        if create and extracted:
            for query in extracted:
                Topic.objects.create(subscriber=obj, query=query)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    subscriber = factory.SubFactory(SubscriberFactory)
    digest_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1))
