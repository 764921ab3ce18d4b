"""The form Mailgun's API takes (multipart/form-data), written by engage itself
(email/http.form_data): a multipart parser reads back every field as it was given."""

from __future__ import annotations

import io

import pytest
from werkzeug.formparser import parse_form_data

from engage.email.http import form_data

FIELDS = [
    ("from", "Get Yourself Active <news@example.org>"),
    ("to", "Zoë Brontë <zoe@example.org>"),
    ("to", "sam@example.org"),
    ("text", "Hello %recipient.t_first_name%,\r\nline two\n= not a header\n--not a boundary"),
    ("html", "<p>Hello 😀 &amp; welcome</p>\n" * 200),
    ("h:List-Unsubscribe", "%recipient.list_unsubscribe%"),
    ("recipient-variables", '{"sam@example.org": {"t_first_name": "Sam \\"S\\""}}'),
    ("o:tag", ""),
]


def test_a_parser_reads_back_every_field_as_given() -> None:
    made = form_data(FIELDS)
    body = made["data"]
    assert isinstance(body, bytes)
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": made["headers"]["Content-Type"],  # type: ignore[index]
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    _, form, files = parse_form_data(environ)
    assert not files
    assert list(form.items(multi=True)) == FIELDS


def test_each_form_has_a_boundary_of_its_own() -> None:
    assert form_data(FIELDS)["headers"] != form_data(FIELDS)["headers"]


@pytest.mark.parametrize("name", ['to"', "to\r\nX-Evil: 1", "to\n"])
def test_a_field_name_that_would_break_the_form_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot hold quotes or line breaks"):
        form_data([(name, "x")])
