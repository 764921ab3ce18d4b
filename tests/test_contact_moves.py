"""The table of what may happen to a contact (contacts/moves.py): what it allows, what it
leaves as it is, and what it refuses."""

from __future__ import annotations

import pytest

from engage.contacts.core import PERSON, SUPPRESSED_STATUSES, ContactError
from engage.contacts.moves import MOVES, NEW, PROVIDER, TEAM, check, may_import
from engage.store.schema import STATUSES


def test_every_change_names_known_statuses() -> None:
    for name, move in MOVES.items():
        assert move.start | move.keeps <= {NEW, *STATUSES}, name
        assert move.to is None or move.to in STATUSES, name


@pytest.mark.parametrize("status", SUPPRESSED_STATUSES)
def test_an_unsubscribe_of_someone_suppressed_changes_nothing(status: str) -> None:
    assert check("unsubscribe", status, PERSON) is False


@pytest.mark.parametrize("status", ["pending", "subscribed"])
def test_an_unsubscribe_stops_whoever_asks(status: str) -> None:
    assert check("unsubscribe", status, PERSON) is True
    assert check("unsubscribe", status, TEAM) is True


def test_a_bounce_or_complaint_never_subscribes() -> None:
    assert MOVES["bounce"].to == "bounced"
    assert MOVES["complain"].to == "complained"
    assert all(move.to != "subscribed" for name, move in MOVES.items() if move.by == {PROVIDER})


def test_a_confirmation_of_someone_subscribed_changes_nothing() -> None:
    assert check("confirm", "subscribed", PERSON) is False


def test_only_the_person_confirms() -> None:
    with pytest.raises(ContactError, match="Only the person may confirm a contact"):
        check("confirm", "pending", TEAM)


def test_a_change_from_a_status_the_table_does_not_give_is_refused() -> None:
    with pytest.raises(ContactError, match="who is new cannot be given the change 'confirm'"):
        check("confirm", NEW, PERSON)


@pytest.mark.parametrize("status", STATUSES)
def test_an_import_never_subscribes_a_suppressed_status_again(status: str) -> None:
    assert may_import(status) is (status not in SUPPRESSED_STATUSES)
