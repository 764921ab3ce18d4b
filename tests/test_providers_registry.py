"""The registries: each email provider and each social network is one unit, found by name."""

from __future__ import annotations

import typing

import pytest

from engage import providers
from engage.config import Email, SocialChannel
from engage.social import networks


def test_every_provider_engage_toml_allows_is_a_unit():
    allowed = typing.get_args(typing.get_type_hints(Email)["provider"])
    assert set(providers.names()) == set(allowed)
    assert all(providers.get(name).name == name for name in providers.names())


def test_every_network_engage_toml_allows_is_a_unit():
    allowed = typing.get_args(typing.get_type_hints(SocialChannel)["network"])
    assert set(networks.names()) == set(allowed)
    assert all(networks.get(name).network == name for name in networks.names())


def test_the_providers_declare_what_they_can_do():
    assert providers.silent() == {"outbox", "smtp"}
    assert providers.sending_raw() == {"outbox", "smtp"}
    hooked = {name for name in providers.names() if providers.get(name).events}
    assert hooked == {"mailgun", "postmark", "sendgrid"}
    assert {name for name in providers.names() if providers.get(name).inbound} == hooked
    assert [n for n in providers.names() if providers.get(n).reconciles] == [
        "outbox",
        "mailgun",
        "postmark",
        "sendgrid",
    ]


@pytest.mark.parametrize("registry", [providers, networks])
def test_an_unknown_name_is_not_found(registry):
    with pytest.raises(KeyError):
        registry.get("carrier-pigeon")
