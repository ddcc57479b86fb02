"""The signup and manage forms: parse and validate what a reader typed, nothing more."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from digest.papers.selectors import arxiv_ids_known
from digest.sources.records import normalize_arxiv_id
from digest.topics import validate as topic_error
from subscriptions.library import importing as library_importing
from subscriptions.library.starter import starter_papers
from subscriptions.models import Subscriber, Topic, Vote
from subscriptions.readers.services import Preferences
from subscriptions.readers.time_zones import time_zone_named

MAX_TOPICS = 20
WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
HOURS = [(h, f"{h:02d}:00") for h in range(24)]


def consent_text() -> str:
    """The wording shown next to the subscribe button, stored verbatim with each signup."""
    return (
        f"Send me the {settings.SITE_NAME} email at this address. I'll get a confirmation "
        "link first, and nothing else until I click it. Every email has a one-click "
        "unsubscribe link."
    )


class _Form(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # labels without a trailing colon
        super().__init__(*args, **kwargs)


class PreferencesForm(_Form):
    topics = forms.CharField(
        required=False,
        label="Topics",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "off"}),
        help_text="One topic per line. Leave empty to get the trending papers only.",
    )
    cadence = forms.ChoiceField(
        choices=Subscriber.Cadence.choices, initial="daily", widget=forms.RadioSelect
    )
    weekday = forms.TypedChoiceField(
        choices=WEEKDAYS, coerce=int, initial=0, label="Weekly on", required=False
    )
    delivery_hour = forms.TypedChoiceField(
        choices=HOURS, coerce=int, initial=7, label="Delivery time"
    )
    timezone = forms.CharField(
        max_length=64,
        initial="UTC",
        label="Time zone",
        widget=forms.TextInput(
            attrs={"list": "tz-list", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    max_papers = forms.IntegerField(
        min_value=1,
        max_value=50,
        initial=10,
        label="Papers per email (at most)",
        help_text="Trending and topic papers. Once you rate papers (“More like this”) or add "
        f"a like: topic, up to {settings.DIGEST_RECOMMENDED_COUNT} recommended papers come on "
        "top.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every topic line in view at once (an error names "Line 5": line 5 must be visible).
        text = self.data.get("topics") if self.is_bound else self.initial.get("topics")
        lines = len(str(text or "").splitlines()) + 1
        self.fields["topics"].widget.attrs["rows"] = min(max(4, lines), MAX_TOPICS + 1)

    def clean_topics(self) -> tuple[str, ...]:
        lines = [line.strip() for line in self.cleaned_data["topics"].splitlines()]
        queries = [line for line in lines if line]
        if len(queries) > MAX_TOPICS:
            raise forms.ValidationError(f"Up to {MAX_TOPICS} topics, please.")
        errors = []
        first_bad = 0
        max_length = Topic._meta.get_field("query").max_length or 200
        for number, line in enumerate(lines, start=1):
            if not line:
                continue
            message = (
                f"is longer than {max_length} characters"
                if len(line) > max_length
                else topic_error(line, known=arxiv_ids_known)
            )
            if message:
                first_bad = first_bad or number
                errors.append(
                    forms.ValidationError(
                        "Line %(number)s (“%(query)s”): %(message)s",
                        params={"number": number, "query": line, "message": message},
                        code="bad_topic",
                    )
                )
        if errors:
            # The live preview opens on the first bad line, so its error is what the reader sees.
            self.fields["topics"].widget.attrs["data-error-line"] = str(first_bad)
            raise forms.ValidationError(errors)
        return tuple(dict.fromkeys(queries))

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        found = time_zone_named(name)
        if found is None:
            raise forms.ValidationError(
                "Unknown time zone “%(name)s”. Use a name like Europe/Paris or America/New_York.",
                params={"name": name},
            )
        return found

    def clean_weekday(self) -> int:
        return self.cleaned_data.get("weekday") or 0

    def preferences(self) -> Preferences:
        data = self.cleaned_data
        return Preferences(
            topics=data["topics"],
            cadence=data["cadence"],
            weekday=data["weekday"],
            delivery_hour=data["delivery_hour"],
            timezone=data["timezone"],
            max_papers=data["max_papers"],
            min_upvotes=data.get("min_upvotes") or 0,
            quiet_day_note=bool(data.get("quiet_day_note")),
        )


class LibraryUploadForm(_Form):
    """A reference library: an export file or a pasted list. `upload` is (bytes, file name)
    once valid; a file the import refuses is a field error, and nothing is stored."""

    library_file = forms.FileField(
        required=False,
        label="Upload a library file",
        help_text="BibTeX (.bib), RIS (.ris) or CSL-JSON (.json), as Zotero, Mendeley, JabRef "
        "or Google Scholar export it; up to 5 MB and 2,000 papers.",
        widget=forms.ClearableFileInput(attrs={"accept": ".bib,.bibtex,.ris,.json,.txt"}),
    )
    library_text = forms.CharField(
        required=False,
        label="Or paste arXiv ids, arXiv URLs or DOIs",
        help_text="One per line, e.g. 2409.10594, https://arxiv.org/abs/2409.10594v2 or "
        "10.48550/arXiv.2409.10594.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
    )
    upload: tuple[bytes, str] | None = None

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or self.cleaned_data
        self.upload = None
        file = cleaned.get("library_file")
        text = (cleaned.get("library_text") or "").strip()
        if file is None and not text:
            return cleaned
        field = "library_file" if file is not None else "library_text"
        size = None
        if file is not None:
            # No more than the limit is read: a larger file is refused by its size.
            data, name = file.read(library_importing.max_bytes() + 1), file.name or "library"
            size = file.size
        else:
            data, name = text.encode(), ""
        try:
            library_importing.library_import_check(data=data, file_name=name, size=size)
        except library_importing.LibraryRefused as error:
            self.add_error(field, str(error))
            return cleaned
        self.upload = (data, name)
        return cleaned


class StarterField(forms.MultipleChoiceField):
    """The ticked starter papers: any arXiv ids (the offer may have changed since the form was
    shown; `starter_likes_record` keeps only what is offered)."""

    def valid_value(self, value: str) -> bool:
        return normalize_arxiv_id(value) is not None


class SignupForm(PreferencesForm, LibraryUploadForm):
    field_order = ["email", "topics", "starter"]

    starter = StarterField(
        required=False,
        label="Start from papers you like",
        help_text="This week's most upvoted papers: tick the ones you'd like more of, and your "
        "first digest recommends papers like them.",
        widget=forms.CheckboxSelectMultiple,
    )

    email = forms.EmailField(
        max_length=254,
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.org"}),
    )
    # Honeypot: hidden from people (and from assistive technology); bots fill every field.
    website = forms.CharField(required=False, label="Leave this field empty")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.starter_papers = starter_papers()
        starter = self.fields["starter"]
        assert isinstance(starter, StarterField)
        starter.choices = [(p.arxiv_id, p.title) for p in self.starter_papers]
        if not self.is_bound:
            # subscribe.js fills in the browser's time zone (Intl API) on a fresh form.
            self.fields["timezone"].widget.attrs["data-prefill"] = "browser"

    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))


class ManageForm(PreferencesForm):
    min_upvotes = forms.IntegerField(
        min_value=0,
        max_value=10000,
        initial=0,
        label="Minimum upvotes",
        help_text="Trending papers with fewer upvotes are left out (0 keeps them all).",
    )
    quiet_day_note = forms.BooleanField(
        required=False, label="Send a short note on days with nothing new for me"
    )

    @classmethod
    def for_subscriber(cls, subscriber: Subscriber) -> ManageForm:
        return cls(
            initial={
                "topics": "\n".join(t.query for t in subscriber.topics.all()),
                "cadence": subscriber.cadence,
                "weekday": subscriber.weekday,
                "delivery_hour": subscriber.delivery_hour,
                "timezone": subscriber.timezone,
                "max_papers": subscriber.max_papers,
                "min_upvotes": subscriber.min_upvotes,
                "quiet_day_note": subscriber.quiet_day_note,
            }
        )


class DeliverByForm(forms.Form):
    """How the digest reaches the reader: email, their private feed, or both."""

    deliver_by = forms.ChoiceField(
        choices=Subscriber.DeliverBy.choices,
        widget=forms.RadioSelect,
        label="Deliver by",
    )


class ResendForm(_Form):
    """Ask for a new confirmation (or manage) link after an expired one."""

    email = forms.EmailField(
        max_length=254,
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class FollowByEmailForm(_Form):
    """A paper's archive page: the address to mail the Follow link to."""

    email = forms.EmailField(
        max_length=254,
        label="Your email address",
        help_text="If you subscribe to the digest, we email you a link to follow this paper.",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.org"}),
    )


class VoteForm(_Form):
    """The vote page's form: the vote preselected from the link, one button to record it."""

    vote = forms.ChoiceField(
        choices=Vote.Value.choices, widget=forms.RadioSelect, label="Your vote"
    )


class TopicAddForm(_Form):
    """Turn a vote into a topic: one query, checked like a line of the manage form's topics."""

    topic = forms.CharField(
        max_length=200,
        label="Or a topic in your own words",
        widget=forms.TextInput(attrs={"placeholder": '"vision transformer" -survey'}),
    )

    def __init__(self, *args: Any, subscriber: Subscriber, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriber = subscriber

    def clean_topic(self) -> str:
        query = " ".join(self.cleaned_data["topic"].split())
        if message := topic_error(query):
            raise forms.ValidationError(
                "“%(query)s”: %(message)s", params={"query": query, "message": message}
            )
        known = set(self.subscriber.topics.values_list("query", flat=True))
        if query not in known and len(known) >= MAX_TOPICS:
            raise forms.ValidationError(f"You already have {MAX_TOPICS} topics, the most we keep.")
        return query
