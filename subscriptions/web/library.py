"""The manage page's library section: import a file or a pasted list, remove one paper,
remove them all. Each POST answers with a redirect to the manage page's library section."""

from __future__ import annotations

import textwrap

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from subscriptions.library.importing import library_import_start
from subscriptions.library.services import library_clear, library_paper_remove
from subscriptions.library.tasks import enqueue_library_import
from subscriptions.readers.tokens import Purpose
from subscriptions.web import forms
from subscriptions.web.pages import subscriber_or_page


@require_POST
def library(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = subscriber_or_page(request, token, Purpose.MANAGE)
    if isinstance(subscriber, HttpResponse):
        return subscriber
    action = request.POST.get("action", "")
    if action == "import":
        form = forms.LibraryUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(str(error) for error in errors))
        elif form.upload is None:
            messages.error(request, "Choose a file or paste a list to import.")
        else:
            data, name = form.upload
            run = library_import_start(subscriber=subscriber, data=data, file_name=name)
            enqueue_library_import(run.pk)
    elif action == "remove":
        paper_id = request.POST.get("paper", "")
        removed = (
            library_paper_remove(subscriber=subscriber, paper_id=int(paper_id))
            if paper_id.isdigit() and len(paper_id) < 19
            else None
        )
        if removed is not None:
            title = textwrap.shorten(str(removed), 80, placeholder="…")
            messages.success(request, f"Removed “{title}” from your library.")
    elif action == "clear":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm that you want them all removed.")
        else:
            count = library_clear(subscriber=subscriber)
            messages.success(request, f"Removed all your library papers ({count}).")
    return redirect(reverse("subscriptions:manage", args=[token]) + "#library")
