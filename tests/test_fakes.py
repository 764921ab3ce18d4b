"""The fake provider APIs behave like the real ones when driven with `requests`."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from .fakes import FakeMailgun, FakePostmark, FakeSendGrid

TIMEOUT = 5
DOMAIN = "mg.example.org"


@pytest.fixture(scope="module")
def _mailgun() -> Iterator[FakeMailgun]:
    with FakeMailgun(api_key="key-test", domain=DOMAIN) as fake:
        yield fake


@pytest.fixture(scope="module")
def _postmark() -> Iterator[FakePostmark]:
    with FakePostmark(api_key="pm-token") as fake:
        yield fake


@pytest.fixture(scope="module")
def _sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key="SG.key") as fake:
        yield fake


@pytest.fixture
def mailgun(_mailgun: FakeMailgun) -> FakeMailgun:
    _mailgun.reset()
    return _mailgun


@pytest.fixture
def postmark(_postmark: FakePostmark) -> FakePostmark:
    _postmark.reset()
    return _postmark


@pytest.fixture
def sendgrid(_sendgrid: FakeSendGrid) -> FakeSendGrid:
    _sendgrid.reset()
    return _sendgrid


# --- Mailgun ----------------------------------------------------------------------------------


def mg_fields(**extra: object) -> list[tuple[str, str]]:
    fields = [
        ("from", "Charity News <news@mg.example.org>"),
        ("to", "Ann Example <ann@example.org>"),
        ("to", "bob@example.org"),
        ("subject", "Hello %recipient.first%"),
        ("text", "Hi %recipient.first%, unsubscribe: %recipient.unsub%"),
        ("html", "<p>Hi %recipient.first%</p>"),
        ("h:List-Unsubscribe", "<%recipient.unsub%>"),
        ("h:List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("v:campaign", "spring"),
        ("v:delivery", "%recipient.delivery%"),
        ("o:tag", "newsletter"),
        ("o:tag", "spring"),
        (
            "recipient-variables",
            json.dumps(
                {
                    "ann@example.org": {"first": "Ann", "unsub": "https://u/1", "delivery": 11},
                    "bob@example.org": {"first": "Bob", "unsub": "https://u/2", "delivery": 12},
                }
            ),
        ),
    ]
    for name, value in extra.items():
        fields = [f for f in fields if f[0] != name]
        if value is not None:
            fields.append((name, str(value)))
    return fields


def mg_post(fake: FakeMailgun, data=None, *, auth=("api", "key-test"), domain=DOMAIN, **kw):
    url = f"{fake.url}/v3/{domain}/messages"
    data = mg_fields() if data is None else data
    return requests.post(url, data=data, auth=auth, timeout=kw.pop("timeout", TIMEOUT), **kw)


MG_ANN = {
    "to": "Ann Example <ann@example.org>",
    "email": "ann@example.org",
    "from": "Charity News <news@mg.example.org>",
    "subject": "Hello Ann",
    "text": "Hi Ann, unsubscribe: https://u/1",
    "html": "<p>Hi Ann</p>",
    "headers": {
        "List-Unsubscribe": "<https://u/1>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
    "metadata": {"campaign": "spring", "delivery": "11"},
    "tags": ["newsletter", "spring"],
}


def test_mailgun_accepts_a_batch_and_substitutes_per_recipient(mailgun) -> None:
    response = mg_post(mailgun)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Queued. Thank you."
    assert re.fullmatch(r"<\d{14}\.[0-9a-f]{16}@mg\.example\.org>", body["id"])
    ann, bob = mailgun.messages
    assert ann == {**MG_ANN, "provider_id": body["id"]}
    assert bob["to"] == bob["email"] == "bob@example.org"
    assert (bob["subject"], bob["text"]) == ("Hello Bob", "Hi Bob, unsubscribe: https://u/2")
    assert bob["headers"]["List-Unsubscribe"] == "<https://u/2>"
    assert bob["metadata"] == {"campaign": "spring", "delivery": "12"}
    [request] = mailgun.requests
    assert (request.method, request.path, request.status) == ("POST", f"/v3/{DOMAIN}/messages", 200)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.body[:2] == [
        ("from", "Charity News <news@mg.example.org>"),
        ("to", "Ann Example <ann@example.org>"),
    ]


def test_mailgun_parses_multipart_bodies_too(mailgun) -> None:
    fields = mg_fields(subject="Café news for %recipient.first%", **{"v:ids": '{"c": 7}'})
    files = [("attachment", ("report.pdf", b"%PDF-1.4 \x00\xff", "application/pdf"))]
    response = mg_post(mailgun, fields, files=files)
    assert response.status_code == 200
    request = mailgun.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert ("attachment", b"%PDF-1.4 \x00\xff") in request.body
    ann = mailgun.messages[0]
    assert ann["subject"] == "Café news for Ann"
    assert ann["metadata"] == {"campaign": "spring", "delivery": "11", "ids": {"c": 7}}
    assert {k: v for k, v in ann.items() if k not in ("subject", "metadata", "provider_id")} == {
        k: v for k, v in MG_ANN.items() if k not in ("subject", "metadata")
    }


def test_mailgun_single_recipient_needs_no_recipient_variables(mailgun) -> None:
    data = [
        ("from", "news@mg.example.org"),
        ("to", '"Doe, Jo" <jo@example.org>'),
        ("subject", "Hi"),
        ("html", "<p>x</p>"),
    ]
    assert mg_post(mailgun, data).status_code == 200
    [jo] = mailgun.messages
    assert (jo["to"], jo["email"], jo["text"], jo["html"]) == (
        '"Doe, Jo" <jo@example.org>',
        "jo@example.org",
        None,
        "<p>x</p>",
    )
    assert (jo["headers"], jo["metadata"], jo["tags"]) == ({}, {}, [])


def test_mailgun_wants_basic_auth_with_the_api_key(mailgun) -> None:
    for auth in [("api", "wrong"), ("user", "key-test"), None]:
        response = mg_post(mailgun, auth=auth)
        assert (response.status_code, response.text) == (401, "Forbidden")
    assert mailgun.messages == []
    assert [r.status for r in mailgun.requests] == [401, 401, 401]


def test_mailgun_unknown_domain_is_404(mailgun) -> None:
    response = mg_post(mailgun, domain="mg.other.org")
    assert response.status_code == 404
    assert response.json() == {"message": "Domain not found: mg.other.org"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"from": None}, "'from' parameter is missing"),
        ({"to": None}, "'to' parameter is missing"),
        ({"subject": None}, "'subject' parameter is missing"),
        (
            {"text": None, "html": None},
            "Need at least one of 'text' or 'html' parameters specified",
        ),
        (
            {"recipient-variables": None},
            "recipient-variables is required when sending to more than one 'to' recipient: without it every recipient sees all the To addresses",
        ),
        (
            {"recipient-variables": "[1]"},
            "recipient-variables parameter is not a valid JSON object",
        ),
        ({"from": "nobody"}, "'from' parameter is not a valid address. please check documentation"),
    ],
)
def test_mailgun_refuses_incomplete_messages(mailgun, change, message) -> None:
    fields = mg_fields()
    for name, value in change.items():
        fields = [f for f in fields if f[0] != name] + ([(name, value)] if value else [])
    response = mg_post(mailgun, fields)
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert mailgun.messages == []


def test_mailgun_wants_recipient_variables_for_every_recipient(mailgun) -> None:
    response = mg_post(mailgun, mg_fields() + [("to", "Cy <cy@example.org>")])
    assert (response.status_code, response.json()) == (
        400,
        {"message": "recipient-variables has no entry for cy@example.org"},
    )
    assert mailgun.messages == []


def test_mailgun_limits_recipients_and_tags(mailgun) -> None:
    people = [f"p{i}@example.org" for i in range(1001)]
    variables = json.dumps({p: {} for p in people})
    data = [
        ("from", "n@mg.example.org"),
        ("subject", "s"),
        ("text", "t"),
        ("recipient-variables", variables),
    ]
    response = mg_post(mailgun, data + [("to", p) for p in people])
    assert (response.status_code, response.json()) == (
        400,
        {"message": "Too many recipients: 1001 (max 1000)"},
    )
    assert mg_post(mailgun, data + [("to", p) for p in people[:1000]]).status_code == 200
    assert len(mailgun.messages) == 1000

    response = mg_post(mailgun, mg_fields() + [("o:tag", "three"), ("o:tag", "four")])
    assert (response.status_code, response.json()) == (400, {"message": "Too many tags: 4 (max 3)"})


def test_mailgun_rejected_recipient_fails_the_whole_request(mailgun) -> None:
    mailgun.reject_recipient("BOB@example.org")
    response = mg_post(mailgun)
    assert (response.status_code, response.json()) == (
        400,
        {"message": "'to' address bob@example.org was rejected"},
    )
    mailgun.reject_recipient("ann@example.org", code=403, message="Sandbox: not authorised")
    response = mg_post(mailgun)
    assert (response.status_code, response.json()) == (403, {"message": "Sandbox: not authorised"})
    assert mailgun.messages == []


def test_mailgun_fail_next_then_success(mailgun) -> None:
    mailgun.fail_next(status=429, retry_after=2, times=2)
    for _ in range(2):
        response = mg_post(mailgun)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.json() == {"message": "Too Many Requests"}
    assert mailgun.messages == []
    assert mg_post(mailgun).status_code == 200
    assert len(mailgun.messages) == 2


def test_mailgun_hang_next_times_the_client_out(mailgun) -> None:
    mailgun.hang_next(seconds=2)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        mg_post(mailgun, timeout=(1, 0.2))
    assert time.monotonic() - started < 1
    assert mg_post(mailgun).status_code == 200
    assert len(mailgun.messages) == 2
    assert len(mailgun.requests) == 2


# --- Postmark ---------------------------------------------------------------------------------

PM_HEADERS = {"X-Postmark-Server-Token": "pm-token", "Accept": "application/json"}


def pm_message(to: str = "Ann Example <ann@example.org>", **extra: object) -> dict:
    return {
        "From": "Charity News <news@example.org>",
        "To": to,
        "Subject": "Hello",
        "TextBody": "Hi there",
        "HtmlBody": "<p>Hi there</p>",
        "ReplyTo": "replies+t1@example.org",
        "Headers": [{"Name": "List-Unsubscribe", "Value": "<https://u/1>"}],
        "Metadata": {"delivery": "11"},
        "Tag": "newsletter",
        "MessageStream": "broadcast",
        **extra,
    }


def pm_post(fake: FakePostmark, body, *, path: str = "/email/batch", headers=PM_HEADERS, **kw):
    return requests.post(
        f"{fake.url}{path}", json=body, headers=headers, timeout=kw.pop("timeout", TIMEOUT), **kw
    )


def test_postmark_accepts_a_batch(postmark) -> None:
    response = pm_post(
        postmark,
        [pm_message(), pm_message("bob@example.org", Metadata={"delivery": "12"}, Tag=None)],
    )
    assert response.status_code == 200
    first, second = response.json()
    assert set(first) == {"ErrorCode", "Message", "MessageID", "SubmittedAt", "To"}
    assert (first["ErrorCode"], first["Message"], first["To"]) == (
        0,
        "OK",
        "Ann Example <ann@example.org>",
    )
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first["MessageID"]
    )
    assert (second["ErrorCode"], second["To"]) == (0, "bob@example.org")
    ann, bob = postmark.messages
    assert ann == {
        "to": "Ann Example <ann@example.org>",
        "email": "ann@example.org",
        "from": "Charity News <news@example.org>",
        "subject": "Hello",
        "text": "Hi there",
        "html": "<p>Hi there</p>",
        "headers": {"List-Unsubscribe": "<https://u/1>", "Reply-To": "replies+t1@example.org"},
        "metadata": {"delivery": "11"},
        "tags": ["newsletter"],
        "provider_id": first["MessageID"],
    }
    assert (bob["email"], bob["metadata"], bob["tags"], bob["provider_id"]) == (
        "bob@example.org",
        {"delivery": "12"},
        [],
        second["MessageID"],
    )


def test_postmark_single_email_endpoint(postmark) -> None:
    response = pm_post(postmark, pm_message(), path="/email")
    assert response.status_code == 200
    assert response.json()["ErrorCode"] == 0
    response = pm_post(postmark, pm_message(TextBody=None, HtmlBody=None), path="/email")
    assert response.status_code == 422
    assert response.json() == {
        "ErrorCode": 300,
        "Message": "Provide either email TextBody or HtmlBody or both.",
    }
    assert len(postmark.messages) == 1


def test_postmark_wants_the_server_token(postmark) -> None:
    response = pm_post(postmark, [pm_message()], headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {
        "ErrorCode": 10,
        "Message": "No Account or Server API tokens were supplied in the HTTP headers. Please add a header for either X-Postmark-Server-Token or X-Postmark-Account-Token.",
    }
    response = pm_post(
        postmark, [pm_message()], headers={**PM_HEADERS, "X-Postmark-Server-Token": "nope"}
    )
    assert response.status_code == 401
    assert response.json()["ErrorCode"] == 10
    assert postmark.messages == []


def test_postmark_wants_json_headers_and_body(postmark) -> None:
    response = pm_post(postmark, [pm_message()], headers={"X-Postmark-Server-Token": "pm-token"})
    assert response.status_code == 422
    assert response.json() == {
        "ErrorCode": 409,
        "Message": "The request needs the header 'Accept: application/json'.",
    }
    response = requests.post(
        f"{postmark.url}/email/batch",
        data="[{",
        headers={**PM_HEADERS, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert (response.status_code, response.json()) == (
        422,
        {"ErrorCode": 402, "Message": "Received invalid JSON input."},
    )


def test_postmark_limits_a_batch_to_500_messages(postmark) -> None:
    response = pm_post(postmark, [pm_message()] * 501)
    assert response.status_code == 422
    assert response.json() == {
        "ErrorCode": 410,
        "Message": "Too many batch messages (501); the maximum is 500.",
    }
    assert pm_post(postmark, [pm_message()] * 500).status_code == 200
    assert len(postmark.messages) == 500


def test_postmark_reports_bad_messages_inside_a_200(postmark) -> None:
    batch = [
        pm_message(From=""),
        pm_message(To=""),
        pm_message(Subject=""),
        pm_message(TextBody="", HtmlBody=None),
        pm_message(MessageStream="outbound"),
        pm_message(MessageStream=None),
        pm_message(", ".join(f"p{i}@example.org" for i in range(51))),
        pm_message("two@example.org, Three <three@example.org>"),
    ]
    response = pm_post(postmark, batch)
    assert response.status_code == 200
    entries = response.json()
    assert [(e["ErrorCode"], e["Message"]) for e in entries[:7]] == [
        (300, "Invalid 'From' address: ''."),
        (300, "Zero recipients specified"),
        (300, "Missing 'Subject'."),
        (300, "Provide either email TextBody or HtmlBody or both."),
        (1235, "The message stream 'outbound' was not found on this server."),
        (1235, "The message stream 'outbound' was not found on this server."),
        (300, "Maximum of 50 recipients allowed per email message"),
    ]
    assert entries[7]["ErrorCode"] == 0
    assert [m["to"] for m in postmark.messages] == ["two@example.org", "Three <three@example.org>"]


def test_postmark_inactive_recipient_gets_406_and_others_go(postmark) -> None:
    postmark.reject_recipient("bob@example.org")
    postmark.reject_recipient(
        "cat@example.org", code=300, message="Invalid 'To' address: 'cat@example.org'."
    )
    response = pm_post(
        postmark, [pm_message(), pm_message("bob@example.org"), pm_message("cat@example.org")]
    )
    assert response.status_code == 200
    ok, inactive, invalid = response.json()
    assert ok["ErrorCode"] == 0
    assert inactive == {
        "ErrorCode": 406,
        "Message": "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: bob@example.org. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.",
    }
    assert invalid == {"ErrorCode": 300, "Message": "Invalid 'To' address: 'cat@example.org'."}
    assert [m["email"] for m in postmark.messages] == ["ann@example.org"]


def test_postmark_fail_next_with_a_custom_body(postmark) -> None:
    postmark.fail_next(
        status=503, retry_after=None, body={"ErrorCode": 100, "Message": "Maintenance"}
    )
    response = pm_post(postmark, [pm_message()])
    assert (response.status_code, response.json()) == (
        503,
        {"ErrorCode": 100, "Message": "Maintenance"},
    )
    assert "Retry-After" not in response.headers
    postmark.fail_next()
    response = pm_post(postmark, [pm_message()])
    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    assert response.json() == {"ErrorCode": 429, "Message": "Too Many Requests"}
    assert pm_post(postmark, [pm_message()]).status_code == 200
    assert len(postmark.messages) == 1


def test_postmark_hang_next_times_the_client_out(postmark) -> None:
    postmark.hang_next(seconds=2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        pm_post(postmark, [pm_message()], timeout=(1, 0.2))
    assert pm_post(postmark, [pm_message()]).status_code == 200
    assert len(postmark.messages) == 1


# --- SendGrid ---------------------------------------------------------------------------------

SG_HEADERS = {"Authorization": "Bearer SG.key"}


def sg_body(**extra: object) -> dict:
    return {
        "personalizations": [
            {
                "to": [{"email": "ann@example.org", "name": "Ann Example"}],
                "substitutions": {"-first-": "Ann", "-unsub-": "https://u/1"},
                "headers": {"List-Unsubscribe": "<-unsub->"},
                "custom_args": {"delivery": "11"},
            },
            {
                "to": [{"email": "bob@example.org"}],
                "substitutions": {"-first-": "Bob", "-unsub-": "https://u/2"},
                "headers": {"List-Unsubscribe": "<-unsub->"},
                "custom_args": {"delivery": "12"},
                "subject": "Bob, -first-!",
            },
        ],
        "from": {"email": "news@example.org", "name": "Charity News"},
        "reply_to": {"email": "replies@example.org"},
        "subject": "Hello -first-",
        "content": [
            {"type": "text/plain", "value": "Hi -first-, unsubscribe: -unsub-"},
            {"type": "text/html", "value": "<p>Hi -first-</p>"},
        ],
        "headers": {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        "custom_args": {"campaign": "spring"},
        "categories": ["newsletter"],
        **extra,
    }


def sg_post(fake: FakeSendGrid, body, *, headers=SG_HEADERS, **kw):
    return requests.post(
        f"{fake.url}/v3/mail/send",
        json=body,
        headers=headers,
        timeout=kw.pop("timeout", TIMEOUT),
        **kw,
    )


def test_sendgrid_accepts_personalizations_and_substitutes(sendgrid) -> None:
    response = sg_post(sendgrid, sg_body())
    assert (response.status_code, response.content) == (202, b"")
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    ann, bob = sendgrid.messages
    assert ann == {
        "to": "Ann Example <ann@example.org>",
        "email": "ann@example.org",
        "from": "Charity News <news@example.org>",
        "subject": "Hello Ann",
        "text": "Hi Ann, unsubscribe: https://u/1",
        "html": "<p>Hi Ann</p>",
        "headers": {
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Unsubscribe": "<https://u/1>",
            "Reply-To": "replies@example.org",
        },
        "metadata": {"campaign": "spring", "delivery": "11"},
        "tags": ["newsletter"],
        "provider_id": message_id,
    }
    assert (bob["to"], bob["subject"], bob["text"]) == (
        "bob@example.org",
        "Bob, Bob!",
        "Hi Bob, unsubscribe: https://u/2",
    )
    assert (bob["headers"]["List-Unsubscribe"], bob["metadata"]["delivery"]) == (
        "<https://u/2>",
        "12",
    )


def test_sendgrid_wants_the_bearer_key(sendgrid) -> None:
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "SG.key"}]:
        response = sg_post(sendgrid, sg_body(), headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "errors": [
                {
                    "message": "The provided authorization grant is invalid, expired, or revoked",
                    "field": None,
                    "help": None,
                }
            ]
        }
    assert sendgrid.messages == []


def test_sendgrid_lists_every_problem(sendgrid) -> None:
    body = sg_body(
        subject=None,
        content=[{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": ""}],
        categories=[f"c{i}" for i in range(11)],
    )
    del body["from"]
    body["personalizations"][0]["to"].append({"name": "No Address"})
    body["personalizations"][1]["to"].append({"email": "ANN@example.org"})
    response = sg_post(sendgrid, body)
    assert response.status_code == 400
    assert [(e["field"], e["message"][:40]) for e in response.json()["errors"]] == [
        ("personalizations.0.to.1.email", "Each to object must at least have an ema"),
        ("personalizations.1.to.1.email", "Each unique email address in the persona"),
        ("from.email", "The from object must be provided for eve"),
        ("subject", "The subject is required. You can get aro"),
        ("content.1.value", "The content value must be a string at le"),
        ("content", "If present, text/plain and text/html may"),
        ("categories", "Too many categories on this message. The"),
    ]
    assert sendgrid.messages == []


def test_sendgrid_requires_personalizations_and_content(sendgrid) -> None:
    response = sg_post(sendgrid, sg_body(personalizations=[], content=[]))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "message": "The personalizations field is required and must have at least one personalization.",
            "field": "personalizations",
            "help": None,
        },
        {
            "message": "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
            "field": "content",
            "help": None,
        },
    ]


def test_sendgrid_limits_personalizations_and_recipients(sendgrid) -> None:
    many = [{"to": [{"email": f"p{i}@example.org"}]} for i in range(1001)]
    response = sg_post(sendgrid, sg_body(personalizations=many))
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith(
        "The personalization block is limited to 1000 personalizations per API request. You have provided 1001 personalizations."
    )
    wide = [{"to": [{"email": f"p{i}.{j}@example.org"} for j in range(501)]} for i in range(2)]
    response = sg_post(sendgrid, sg_body(personalizations=wide))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "message": "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
            "field": "personalizations",
            "help": None,
        }
    ]
    assert sg_post(sendgrid, sg_body(personalizations=many[:1000])).status_code == 202
    assert len(sendgrid.messages) == 1000


def test_sendgrid_rejected_recipient_fails_the_request(sendgrid) -> None:
    sendgrid.reject_recipient("bob@example.org", message="Does not contain a valid address.")
    response = sg_post(sendgrid, sg_body())
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Does not contain a valid address.",
                "field": "personalizations.1.to.0.email",
                "help": None,
            }
        ]
    }
    assert sendgrid.messages == []


def test_sendgrid_fail_next_sets_retry_headers(sendgrid) -> None:
    sendgrid.fail_next(status=429, retry_after=3)
    before = time.time()
    response = sg_post(sendgrid, sg_body())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert before + 2 <= int(response.headers["X-RateLimit-Reset"]) <= time.time() + 3
    assert response.json() == {
        "errors": [{"message": "Too Many Requests", "field": None, "help": None}]
    }
    assert sg_post(sendgrid, sg_body()).status_code == 202


def test_sendgrid_hang_next_times_the_client_out(sendgrid) -> None:
    sendgrid.hang_next(seconds=2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sg_post(sendgrid, sg_body(), timeout=(1, 0.2))
    assert sg_post(sendgrid, sg_body()).status_code == 202


def test_sendgrid_wants_json(sendgrid) -> None:
    response = requests.post(
        f"{sendgrid.url}/v3/mail/send", data="x=1", headers=SG_HEADERS, timeout=TIMEOUT
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["message"] == "Content-Type should be application/json."


# --- Common behaviour -------------------------------------------------------------------------


def test_fakes_start_on_a_free_port_and_stop() -> None:
    fake = FakeSendGrid(api_key="k")
    with pytest.raises(RuntimeError):
        fake.url  # noqa: B018
    with fake:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.url)
        other = FakeSendGrid(api_key="k").start()
        assert other.url != fake.url
        other.stop()
        url = fake.url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"{url}/v3/mail/send", timeout=1)


def test_stop_wakes_a_hanging_request() -> None:
    fake = FakePostmark(api_key="pm-token").start()
    fake.hang_next(seconds=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        pm_post(fake, [pm_message()], timeout=(1, 0.1))
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1


def test_delay_slows_every_answer() -> None:
    with FakeSendGrid(api_key="SG.key", delay=0.1) as fake:
        started = time.monotonic()
        assert sg_post(fake, sg_body()).status_code == 202
        assert time.monotonic() - started >= 0.1


def test_concurrent_requests_are_all_recorded(mailgun) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool, requests.Session() as session:
        url = f"{mailgun.url}/v3/{DOMAIN}/messages"
        statuses = list(
            pool.map(
                lambda _: (
                    session.post(
                        url, data=mg_fields(), auth=("api", "key-test"), timeout=TIMEOUT
                    ).status_code
                ),
                range(40),
            )
        )
    assert statuses == [200] * 40
    assert len(mailgun.requests) == 40
    assert len(mailgun.messages) == 80
    assert len({m["provider_id"] for m in mailgun.messages}) == 40


def test_reset_forgets_everything(mailgun) -> None:
    mailgun.fail_next(times=5)
    mailgun.hang_next(times=5)
    mailgun.reject_recipient("ann@example.org")
    mailgun.reset()
    assert mg_post(mailgun).status_code == 200
    assert len(mailgun.messages) == 2
    mailgun.reset()
    assert (mailgun.requests, mailgun.messages) == ([], [])


def test_basic_auth_header_is_what_requests_sends(mailgun) -> None:
    mg_post(mailgun)
    expected = base64.b64encode(b"api:key-test").decode()
    assert mailgun.requests[0].headers["authorization"] == f"Basic {expected}"


# --- The records each fake keeps ----------------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 04:00 in New York


class Clock:
    """A clock a test moves by hand, for the fakes' records."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def when() -> Clock:
    return Clock()


def page_ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["recipient"] for item in response.json()["items"]]


def test_mailgun_events_list_what_was_accepted_page_by_page(when) -> None:
    with FakeMailgun(api_key="key-test", domain=DOMAIN, clock=when) as fake:
        assert mg_post(fake).status_code == 200
        provider_id = fake.messages[0]["provider_id"]
        url = f"{fake.url}/v3/{DOMAIN}/events"
        params = {"begin": str(int(T0.timestamp())), "ascending": "yes", "limit": "1"}
        first = requests.get(url, params=params, auth=("api", "key-test"), timeout=TIMEOUT)
        assert page_ids(first) == ["ann@example.org"]
        event = first.json()["items"][0]
        assert {k: v for k, v in event.items() if k != "id"} == {
            "event": "accepted",
            "timestamp": T0.timestamp(),
            "log-level": "info",
            "method": "http",
            "recipient": "ann@example.org",
            "recipient-domain": "example.org",
            "tags": ["newsletter", "spring"],
            "user-variables": {"campaign": "spring", "delivery": "11"},
            "flags": {"is-authenticated": True, "is-test-mode": False},
            "envelope": {
                "sender": "Charity News <news@mg.example.org>",
                "targets": "ann@example.org",
                "transport": "smtp",
            },
            "message": {
                "headers": {
                    "to": "Ann Example <ann@example.org>",
                    "message-id": provider_id.strip("<>"),
                    "from": "Charity News <news@mg.example.org>",
                    "subject": "Hello Ann",
                },
                "attachments": [],
                "size": len("Hi Ann, unsubscribe: https://u/1<p>Hi Ann</p>"),
            },
        }
        paging = first.json()["paging"]
        assert sorted(paging) == ["first", "last", "next", "previous"]
        assert paging["next"].startswith(f"{fake.url}/v3/{DOMAIN}/events/")
        second = requests.get(paging["next"], auth=("api", "key-test"), timeout=TIMEOUT)
        assert page_ids(second) == ["bob@example.org"]
        back = requests.get(second.json()["paging"]["previous"], auth=("api", "key-test"))
        assert page_ids(back) == ["ann@example.org"]
        end = requests.get(second.json()["paging"]["next"], auth=("api", "key-test"))
        assert page_ids(end) == []
        when.now += timedelta(minutes=1)  # a later message shows on the same next page later
        assert mg_post(fake, mg_fields(to="cy@example.org", **{"recipient-variables": None}))
        later = requests.get(end.json()["paging"]["next"], auth=("api", "key-test"))
        assert page_ids(later) == ["cy@example.org"]


def test_mailgun_events_time_range_filters_and_direction(when) -> None:
    with FakeMailgun(api_key="key-test", domain=DOMAIN, clock=when) as fake:
        mg_post(fake)
        when.now += timedelta(hours=1)
        mg_post(fake, mg_fields(to="cy@example.org", **{"recipient-variables": None}))
        url = f"{fake.url}/v3/{DOMAIN}/events"

        def ask(**params: str) -> requests.Response:
            return requests.get(url, params=params, auth=("api", "key-test"), timeout=TIMEOUT)

        start, later = str(int(T0.timestamp())), str(int(T0.timestamp()) + 1800)
        assert page_ids(ask(begin=start, end=later)) == ["ann@example.org", "bob@example.org"]
        assert page_ids(ask(begin=later, ascending="yes")) == ["cy@example.org"]
        newest_first = ask(begin=str(int(when.now.timestamp())), ascending="no")
        assert page_ids(newest_first) == ["cy@example.org", "bob@example.org", "ann@example.org"]
        assert page_ids(ask(begin=start, ascending="yes", recipient="bob@example.org")) == [
            "bob@example.org"
        ]
        assert page_ids(ask(begin=start, ascending="yes", event="delivered")) == []
        rfc2822 = "Tue, 01 Dec 2026 09:30:00 +0000"
        assert page_ids(ask(begin=rfc2822, ascending="yes")) == ["cy@example.org"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"begin": "1", "ascending": "yes", "limit": "301"}, "limit must be between 1 and 300"),
        ({"begin": "1"}, "Either 'end' or 'ascending' must be given"),
        (
            {"begin": "5", "end": "1", "ascending": "yes"},
            "'ascending' does not agree with 'begin' and 'end'",
        ),
        ({"begin": "soon", "ascending": "yes"}, "'soon' is not a time (epoch seconds or RFC 2822)"),
    ],
)
def test_mailgun_events_refuse_what_mailgun_refuses(mailgun, params, message) -> None:
    url = f"{mailgun.url}/v3/{DOMAIN}/events"
    response = requests.get(url, params=params, auth=("api", "key-test"), timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (400, {"message": message})


def test_mailgun_events_want_the_key_and_the_domain(mailgun) -> None:
    url = f"{mailgun.url}/v3/{DOMAIN}/events?begin=1&ascending=yes"
    assert requests.get(url, auth=("api", "wrong"), timeout=TIMEOUT).status_code == 401
    other = f"{mailgun.url}/v3/other.example.org/events?begin=1&ascending=yes"
    response = requests.get(other, auth=("api", "key-test"), timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (
        404,
        {"message": "Domain not found: other.example.org"},
    )


def test_records_lag_behind_by_records_lag(when) -> None:
    with FakeMailgun(api_key="key-test", domain=DOMAIN, clock=when, records_lag=60) as fake:
        mg_post(fake)
        url = f"{fake.url}/v3/{DOMAIN}/events?begin=1&ascending=yes"
        assert page_ids(requests.get(url, auth=("api", "key-test"), timeout=TIMEOUT)) == []
        assert len(fake.messages) == 2 and fake.records == []
        when.now += timedelta(seconds=60)
        assert len(page_ids(requests.get(url, auth=("api", "key-test"), timeout=TIMEOUT))) == 2
        fake.records_lag = 600
        assert fake.records == []
        fake.reset()
        assert (fake.records_lag, fake.messages) == (60, [])


def pm_search(fake: FakePostmark, headers=PM_HEADERS, **params: str) -> requests.Response:
    query = {"count": "10", "offset": "0", "messagestream": "broadcast", **params}
    return requests.get(
        f"{fake.url}/messages/outbound", params=query, headers=headers, timeout=TIMEOUT
    )


def test_postmark_search_finds_messages_newest_first_by_offset(when) -> None:
    with FakePostmark(api_key="pm-token", clock=when) as fake:
        first = pm_post(fake, [pm_message(), pm_message("bob@example.org")]).json()
        when.now += timedelta(minutes=1)
        last = pm_post(fake, [pm_message("cy@example.org", Metadata={"delivery": "13"})]).json()
        response = pm_search(fake, count="2")
        assert response.status_code == 200
        assert response.json() == {
            "TotalCount": 3,
            "Messages": [
                {
                    "Tag": "newsletter",
                    "MessageID": last[0]["MessageID"],
                    "MessageStream": "broadcast",
                    "To": [{"Email": "cy@example.org", "Name": ""}],
                    "Cc": [],
                    "Bcc": [],
                    "Recipients": ["cy@example.org"],
                    "ReceivedAt": "2026-12-01T04:01:00-05:00",
                    "From": "Charity News <news@example.org>",
                    "Subject": "Hello",
                    "Attachments": [],
                    "Status": "Sent",
                    "TrackOpens": False,
                    "TrackLinks": "None",
                    "Metadata": {"delivery": "13"},
                    "Sandboxed": False,
                },
                {**response.json()["Messages"][1], "MessageID": first[1]["MessageID"]},
            ],
        }
        rest = pm_search(fake, count="2", offset="2").json()
        assert [m["MessageID"] for m in rest["Messages"]] == [first[0]["MessageID"]]
        assert rest["Messages"][0]["To"] == [{"Email": "ann@example.org", "Name": "Ann Example"}]


def test_postmark_search_filters(when) -> None:
    with FakePostmark(api_key="pm-token", clock=when) as fake:
        pm_post(fake, [pm_message(), pm_message("bob@example.org", Metadata={"delivery": "12"})])

        def found(**params: str) -> list[str]:
            response = pm_search(fake, **params)
            assert response.status_code == 200, response.text
            return [m["Recipients"][0] for m in response.json()["Messages"]]

        assert found(metadata_delivery="12") == ["bob@example.org"]
        assert found(recipient="ANN@example.org") == ["ann@example.org"]
        assert found(messagestream="outbound") == []
        assert found(fromdate="2026-12-01T04:00:00", todate="2026-12-01T04:00:00") == [
            "bob@example.org",
            "ann@example.org",
        ]
        assert found(fromdate="2026-12-01T04:00:01") == []
        assert found(todate="2026-11-30") == []
        assert found(todate="2026-12-01") == ["bob@example.org", "ann@example.org"]
        no_stream = requests.get(
            f"{fake.url}/messages/outbound?count=10&offset=0", headers=PM_HEADERS, timeout=TIMEOUT
        )
        assert no_stream.json() == {"TotalCount": 0, "Messages": []}  # the default stream


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"count": "501"}, "count must be 1 to 500, offset 0 or more."),
        ({"count": "500", "offset": "9501"}, "count + offset cannot exceed 10,000."),
        ({"metadata_a": "1", "metadata_b": "2"}, "Only one metadata filter can be used at a time."),
        ({"fromdate": "yesterday"}, "'yesterday' is not a date (like 2026-12-01T09:00:00)."),
    ],
)
def test_postmark_search_refuses_bad_queries(postmark, params, message) -> None:
    response = pm_search(postmark, **params)
    assert (response.status_code, response.json()) == (
        422,
        {"ErrorCode": 1100, "Message": message},
    )


def test_postmark_search_wants_the_token_and_json(postmark) -> None:
    assert pm_search(postmark, headers={"Accept": "application/json"}).status_code == 401
    response = pm_search(postmark, headers={"X-Postmark-Server-Token": "pm-token"})
    assert (response.status_code, response.json()["ErrorCode"]) == (422, 409)


def sg_activity(fake: FakeSendGrid, headers=SG_HEADERS, **params: str) -> requests.Response:
    return requests.get(f"{fake.url}/v3/messages", params=params, headers=headers, timeout=TIMEOUT)


def test_sendgrid_email_activity_answers_queries(when) -> None:
    with FakeSendGrid(api_key="SG.key", clock=when) as fake:
        message_id = sg_post(fake, sg_body()).headers["X-Message-Id"]
        response = sg_activity(fake, limit="10", query="unique_args['delivery']=\"12\"")
        assert response.status_code == 200
        (bob,) = response.json()["messages"]
        assert bob == {
            "from_email": "news@example.org",
            "msg_id": bob["msg_id"],
            "subject": "Bob, Bob!",
            "to_email": "bob@example.org",
            "status": "delivered",
            "opens_count": 0,
            "clicks_count": 0,
            "last_event_time": "2026-12-01T09:00:00Z",
        }
        assert bob["msg_id"].startswith(f"{message_id}.")

        def found(query: str, limit: str = "10") -> list[str]:
            response = sg_activity(fake, limit=limit, query=query)
            assert response.status_code == 200, response.text
            return [m["to_email"] for m in response.json()["messages"]]

        both = ["bob@example.org", "ann@example.org"]  # newest first
        assert found("") == both
        assert (
            found(
                "unique_args['campaign']=\"spring\" AND (unique_args['delivery']=\"11\" "
                "OR unique_args['delivery']=\"12\")"
            )
            == both
        )
        assert found('to_email="ann@example.org" AND NOT status="bounced"') == ["ann@example.org"]
        assert found('unique_args[\'delivery\'] IN ("11", "13")') == ["ann@example.org"]
        assert found('subject LIKE "Hello%"') == ["ann@example.org"]
        assert (
            found(
                'last_event_time BETWEEN TIMESTAMP "2026-12-01T08:59:00Z" '
                'AND TIMESTAMP "2026-12-01T09:00:00Z"'
            )
            == both
        )
        assert found('last_event_time > TIMESTAMP "2026-12-01T09:00:00Z"') == []
        assert found("", limit="1") == ["bob@example.org"]


def test_sendgrid_email_activity_refusals() -> None:
    with FakeSendGrid(api_key="SG.key", email_activity=False) as fake:
        response = sg_activity(fake, limit="10")
        assert (response.status_code, response.json()) == (
            400,
            {"errors": [{"message": "authorization required"}]},
        )
    with FakeSendGrid(api_key="SG.key") as fake:
        assert sg_activity(fake, headers={}, limit="10").status_code == 401
        for params, field in [({}, "limit"), ({"limit": "1001"}, "limit")]:
            response = sg_activity(fake, **params)
            assert (response.status_code, response.json()["errors"][0]["field"]) == (400, field)
        response = sg_activity(fake, limit="10", query='nonsense="1"')
        assert (response.status_code, response.json()["errors"][0]) == (
            400,
            {"message": "invalid query: unknown field 'nonsense'", "field": "query", "help": None},
        )


# --- Answers that never come --------------------------------------------------------------------


def test_accept_then_hang_takes_the_messages_but_the_answer_comes_too_late(postmark) -> None:
    postmark.accept_then_hang(seconds=2)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        pm_post(postmark, [pm_message()], timeout=(1, 0.2))
    assert time.monotonic() - started < 1
    assert [m["email"] for m in postmark.messages] == ["ann@example.org"]
    assert pm_post(postmark, [pm_message("bob@example.org")]).status_code == 200
    assert len(postmark.messages) == 2


def test_accept_then_reset_takes_the_messages_and_closes_the_connection(sendgrid) -> None:
    sendgrid.accept_then_reset(times=2)
    for _ in range(2):
        with pytest.raises(requests.exceptions.ConnectionError):
            sg_post(sendgrid, sg_body())
    assert len(sendgrid.messages) == 4
    assert [r.status for r in sendgrid.requests] == [None, None]
    assert sg_post(sendgrid, sg_body()).status_code == 202


def test_failures_come_before_accept_then_hang(mailgun) -> None:
    mailgun.accept_then_hang(seconds=5)
    mailgun.fail_next(status=503, retry_after=None)
    assert mg_post(mailgun).status_code == 503
    assert mailgun.messages == []
    with pytest.raises(requests.exceptions.ReadTimeout):
        mg_post(mailgun, timeout=(1, 0.2))
    assert len(mailgun.messages) == 2
    mailgun.reset()  # forgets queued modes too
    mailgun.accept_then_reset()
    mailgun.reset()
    assert mg_post(mailgun).status_code == 200


def test_stop_wakes_a_request_held_after_acceptance() -> None:
    fake = FakeMailgun(api_key="key-test", domain=DOMAIN).start()
    fake.accept_then_hang(seconds=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        mg_post(fake, timeout=(1, 0.1))
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1
    assert len(fake.messages) == 2
