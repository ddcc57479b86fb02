"""Random and hostile requests to every public URL, for tests/test_fuzz_requests.py: hostile
strings, random JSON, Postmark events, signups (valid and mutated), signed tokens and the site's
forms and pages (a paper's archive page and its Follow form too), all from one seeded generator."""

from __future__ import annotations

import base64
import json
import os
import random
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

SEED = int(os.environ.get("FUZZ_SEED", "20261204"))
REQUESTS = max(10_000, int(os.environ.get("FUZZ_REQUESTS", "10000")))
SECRET = "hook:s3cret"
OPERATOR = "ops@example.org"

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: x=1",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../../../etc/passwd",
    "%00",
    "%ff%fe",
    "{{ 7*7 }}",
    "{% debug %}",
    "${jndi:ldap://x}",
    "-1",
    "0",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "null",
    "[]",
    "{}",
    "true",
    "ﬀ",
    "\uff44\uff49\uff46\uff46\uff55\uff53\uff49\uff4f\uff4e",  # full-width
    "Ω" * 300,
    "a" * 5000,
    "😀" * 50,
    "\u202e\u200b\u2028",
    "Etc/GMT+99",
    "Europe/Paris",
    "UTC",
    "x@[127.0.0.1]",
    "a@b",
    "@example.org",
    "user@example.org",
    "USER@EXAMPLE.ORG ",
    "a" * 250 + "@example.org",
    '"', "(", ")", "((((((((((((((((((((", "author:", "cat:", 'author:"', "-", "--a",
    "OR", "AND", "NOT", "a OR", "* ?", '"deep neural" -survey', "cat:cs.CL", "diffusion",
    'author:"Yann LeCun"', "cat:", "cat:cs.", "a" * 201,
]  # fmt: skip


def hostile(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(HOSTILE)
    if roll < 0.8:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))
    # Any Unicode character but the surrogates (not encodable in a form or a URL).
    chars = [chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(1, 30))]
    return "".join(c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 2**64, 1.5, 1e308])
    if kind in (3, 4):
        return hostile(rng)
    if kind in (5, 6):
        return {hostile(rng)[:20]: random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]


@dataclass
class Request:
    method: str
    path: str
    data: bytes | None = None
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        body = "" if self.data is None else f" body={self.data[:500]!r}"
        return f"{self.method} {self.path} headers={self.headers} ({self.content_type}){body}"


@dataclass
class World:
    """What valid requests need: real tokens and a sent digest."""

    tokens: dict[str, list[str]]
    delivery_ids: list[int]
    day: str
    csrf: str = ""


def postmark_event(rng: random.Random, world: World) -> dict[str, Any]:
    email = rng.choice(["active@example.org", "other@example.org", "nobody@example.org"])
    record = rng.choice(["Bounce", "SpamComplaint", "SubscriptionChange", "Delivery", "Open"])
    event: dict[str, Any] = {
        "RecordType": record,
        "ID": rng.randint(1, 50),  # a small range: replays happen
        "Type": rng.choice(["HardBounce", "SoftBounce", "Transient", "SpamComplaint", "Blocked"]),
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"delivery_id": str(rng.choice([*world.delivery_ids, 0, 10**30]))},
        "Email": email,
        "Recipient": email,
        "BouncedAt": "2026-11-24T07:33:54.9070259Z",
        "DeliveredAt": "2026-11-24T07:33:54Z",
        "ChangedAt": "2026-11-24T10:53:34.416071Z",
        "SuppressSending": rng.choice([True, False]),
        "SuppressionReason": rng.choice(["ManualSuppression", "HardBounce", "SpamComplaint"]),
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1",
        "Tag": "digest",
    }
    # Break a few fields: wrong types, hostile strings, missing keys.
    for key in rng.sample(sorted(event), k=rng.choice([0, 0, 1, 2, 4])):
        if rng.random() < 0.3:
            del event[key]
        else:
            event[key] = random_json(rng)
    return event


def webhook_request(rng: random.Random, world: World) -> Request:
    roll = rng.random()
    headers: dict[str, str] = {}
    auth = rng.random()
    if auth < 0.75:
        headers["authorization"] = "Basic " + base64.b64encode(SECRET.encode()).decode()
    elif auth < 0.9:
        credentials = rng.choice(["hook:wrong", "other:s3cret", hostile(rng)])
        headers["authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    elif auth < 0.95:
        headers["authorization"] = rng.choice(["Basic", "Basic !!!", "Bearer x", hostile(rng)])
    if roll < 0.08:
        esp = rng.choice(["mailgun", "amazon_ses", "sendgrid", "mandrill", "brevo", hostile(rng)])
        path = f"/anymail/{quote(esp, safe='')}/tracking/"
    elif roll < 0.1:
        path = rng.choice(["/anymail/postmark/inbound/", "/anymail/mandrill/", "/anymail/"])
    else:
        path = "/anymail/postmark/tracking/"
    body_kind = rng.random()
    if body_kind < 0.5:
        body = json.dumps(postmark_event(rng, world)).encode()
    elif body_kind < 0.7:
        body = json.dumps(random_json(rng)).encode()
    elif body_kind < 0.8:
        body = rng.randbytes(rng.randint(0, 300))
    elif body_kind < 0.9:
        text = json.dumps(postmark_event(rng, world))
        cut = rng.randint(0, len(text))
        body = (text[:cut] + hostile(rng) + text[cut + 1 :]).encode("utf-8", "replace")
    else:
        body = rng.choice([b"", b"null", b"[]", b"{}", b"0", b'"x"', b"\xff\xfe", b"{" * 5000])
    method = "POST" if rng.random() < 0.93 else rng.choice(["GET", "PUT", "HEAD", "OPTIONS"])
    content_type = rng.choice(["application/json"] * 8 + ["text/plain", "", hostile(rng)])
    return Request(method, path, body, content_type, headers)


def signup_data(rng: random.Random) -> dict[str, Any]:
    return {
        "email": f"fuzz{rng.randint(0, 400)}@example.org",
        "topics": rng.choice(["diffusion", "diffusion\ncat:cs.CL", "", '"deep neural" -survey']),
        "cadence": rng.choice(["daily", "weekly"]),
        "weekday": str(rng.randint(0, 6)),
        "delivery_hour": str(rng.randint(0, 23)),
        "timezone": rng.choice(["UTC", "Europe/Paris", "America/New_York"]),
        "max_papers": str(rng.randint(1, 50)),
        "min_upvotes": str(rng.randint(0, 100)),
        "quiet_day_note": rng.choice(["on", ""]),
        "website": "",
    }


def mutate(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    changes = min(len(data), rng.choice([0, 0, 1, 2, 3, len(data)]))
    for key in rng.sample(sorted(data), k=changes):
        roll = rng.random()
        if roll < 0.2:
            del data[key]
        elif roll < 0.3:
            data[key] = [hostile(rng), hostile(rng)]
        else:
            data[key] = hostile(rng)
    if rng.random() < 0.1:
        data[hostile(rng)[:30] or "x"] = hostile(rng)
    return data


def form_request(rng: random.Random, path: str, data: dict[str, Any], world: World) -> Request:
    data = mutate(rng, data)
    if rng.random() < 0.85:
        data["csrfmiddlewaretoken"] = world.csrf
    if rng.random() < 0.05:  # not UTF-8, or not a form at all
        return Request("POST", path, rng.randbytes(rng.randint(0, 200)) + b"=\xff&a=%ff%00")
    return Request("POST", path, urlencode(data, doseq=True).encode(), _FORM)


_FORM = "application/x-www-form-urlencoded"


def token_for(rng: random.Random, world: World, purpose: str) -> str:
    roll = rng.random()
    tokens = world.tokens[purpose]
    if roll < 0.6 and tokens:
        return rng.choice(tokens)
    if roll < 0.8 and tokens:
        token = rng.choice(tokens)
        cut = rng.randint(0, len(token))
        return token[:cut] + rng.choice(string.ascii_letters + ":-_") + token[cut + 1 :]
    if roll < 0.9:
        other = rng.choice([p for p in world.tokens if p != purpose and world.tokens[p]])
        return rng.choice(world.tokens[other])
    return hostile(rng)


def site_request(rng: random.Random, world: World) -> Request:
    roll = rng.random()
    if roll < 0.14:
        if rng.random() < 0.3:
            query = urlencode({"email": hostile(rng)})
            return Request("GET", f"/subscribe/?{query}")
        return form_request(rng, "/subscribe/", signup_data(rng), world)
    if roll < 0.32:
        query = urlencode({rng.choice(["q", "q", "x"]): hostile(rng)})
        return Request(rng.choice(["GET", "GET", "POST"]), f"/subscribe/preview/?{query}")
    if roll < 0.36:
        return form_request(rng, "/confirm/resend/", {"email": signup_data(rng)["email"]}, world)
    if roll < 0.44:
        token = quote(token_for(rng, world, "confirm"), safe="")
        if rng.random() < 0.5:
            return Request("GET", f"/confirm/{token}/")
        return form_request(rng, f"/confirm/{token}/", {}, world)
    if roll < 0.6:
        token = quote(token_for(rng, world, "manage"), safe="")
        kind = rng.random()
        if kind < 0.3:
            return Request("GET", f"/manage/{token}/")
        if kind < 0.45:
            action = rng.choice(["pause", "resume", "save", hostile(rng)])
            return form_request(rng, f"/manage/{token}/", {"action": action}, world)
        if kind < 0.9:
            return form_request(rng, f"/manage/{token}/", signup_data(rng), world)
        if kind < 0.95:
            return form_request(rng, f"/resubscribe/{token}/", {}, world)
        # Rarely: an erase (with the box ticked) removes a reader, and their tokens stop working.
        confirm = "yes" if rng.random() < 0.1 else hostile(rng)
        return form_request(rng, f"/manage/{token}/erase/", {"confirm": confirm}, world)
    if roll < 0.74:
        token = quote(token_for(rng, world, "unsubscribe"), safe="")
        kind = rng.random()
        if kind < 0.4:
            return Request("GET", f"/unsubscribe/{token}/")
        # RFC 8058: a mailbox provider posts this, without cookies or a CSRF token.
        body = rng.choice([b"List-Unsubscribe=One-Click", b"", rng.randbytes(20)])
        return Request("POST", f"/unsubscribe/{token}/", body, _FORM)
    if roll < 0.82:
        day = rng.choice([world.day, "2001-01-01", "2026-02-30", "9999-12-31", hostile(rng)])
        if rng.random() < 0.5:
            return Request("GET", f"/digests/{quote(day, safe='')}/")
        # A paper's page, and its Follow-by-email form.
        paper = rng.choice(["2409.10594", "2409.99999", "hep-th/9901001", hostile(rng)])
        path = f"/digests/{quote(day, safe='')}/{quote(paper, safe='/')}/"
        if rng.random() < 0.5:
            return Request("GET", path + rng.choice(["", "", "check-your-inbox/"]))
        email = rng.choice(["active@example.org", "pending@example.org", signup_data(rng)["email"]])
        return form_request(rng, path, {"email": email}, world)
    if roll < 0.9:
        return Request("GET", f"/digests/view/{quote(token_for(rng, world, 'view'), safe='')}/")
    path = rng.choice(["/", "/healthz", "/subscribe/check-your-inbox/", "/" + quote(hostile(rng))])
    method = rng.choice(["GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
    return Request(method, path)
