from __future__ import annotations

import os
from pathlib import Path

import pytest

from engage.config import find_workspace, secret
from engage.errors import ConfigError, WorkspaceError


def test_found_by_walking_up(project) -> None:
    deep = project.root / "campaigns" / "drafts"
    deep.mkdir()
    ws = find_workspace(start=deep)
    assert ws.root == project.root.resolve()
    assert ws.config.organisation.name == "Get Yourself Active"


def test_given_folder_or_file_or_environment(project, monkeypatch) -> None:
    assert find_workspace(str(project.root)).root == project.root.resolve()
    assert find_workspace(str(project.root / "engage.toml")).root == project.root.resolve()
    monkeypatch.setenv("ENGAGE_WORKSPACE", str(project.root))
    assert find_workspace(start=Path("/")).root == project.root.resolve()


def test_no_workspace_anywhere(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ENGAGE_WORKSPACE", raising=False)
    with pytest.raises(WorkspaceError) as caught:
        find_workspace(start=tmp_path)
    assert str(caught.value) == (
        f"No engage.toml found in {tmp_path.resolve()} or any folder above it. Run engage inside "
        "your workspace, or name it with --workspace DIR or ENGAGE_WORKSPACE."
    )


def test_given_folder_without_config(tmp_path) -> None:
    with pytest.raises(WorkspaceError) as caught:
        find_workspace(str(tmp_path))
    assert str(caught.value).startswith(f"No engage.toml in {tmp_path.resolve()}.")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[organisation]\nname = "A"\naddress = "B"\ncolour = "red"\n',
            "engage.toml: unknown key 'organisation.colour'; the keys allowed in [organisation] "
            "are: address, charity_number, lang, name, website",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email]\nrate_per_second = "fast"\n',
            'engage.toml: email.rate_per_second must be a number, not the text "fast"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email]\nprovider = "mailchimp"\n',
            'engage.toml: email.provider must be "outbox" or "smtp" or "mailgun" or "postmark" '
            'or "sendgrid", not "mailchimp"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email.smtp]\nport = "587"\n',
            'engage.toml: email.smtp.port must be a whole number, not the text "587"',
        ),
        (
            '[organisation]\nname = "A"\n',
            "engage.toml: organisation.address is required",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email.mailgun]\napi_key = "key-123"\n',
            "engage.toml: unknown key 'email.mailgun.api_key'; the keys allowed in "
            "[email.mailgun] are: api_key_env, base_url, domain, webhook_signing_key_env. "
            "Secrets are never read from engage.toml: put the value in an environment variable "
            "and name that variable with a key ending in _env",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[web]\nold_secret_key = "abc"\n',
            "engage.toml: unknown key 'web.old_secret_key'; the keys allowed in [web] are: "
            "base_url, confirmations_per_day_per_address, consent_wording, old_secret_keys_env, "
            "secret_key_env, signup_tags, signups_per_hour_per_ip. Secrets are never read from "
            "engage.toml: put the value in an environment variable and name that variable with "
            "a key ending in _env",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[web]\nold_secret_keys_env = "OLD"\n',
            "engage.toml: web.old_secret_keys_env must be a list",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[web]\nsignup_tags = "newsletter"\n',
            "engage.toml: web.signup_tags must be a list",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\nwalking = " "\n',
            "engage.toml: topics.walking has no words: write what people see next to its tick "
            'box, like walking = "Walking groups near you"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\nWalking = "a"\nwalking = "b"\n',
            "engage.toml: topics.walking is there twice (tags do not care about capitals)",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\nwalking = 3\n',
            "engage.toml: topics.walking must be text in quotes, not int 3",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\n" " = "Walking"\n',
            'engage.toml: [topics] has an empty name: write a tag, like walking = "..."',
        ),
    ],
)
def test_bad_settings_are_named(tmp_path, toml, message) -> None:
    (tmp_path / "engage.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        find_workspace(str(tmp_path))
    assert str(caught.value) == message


def test_toml_syntax_error_names_file_and_line(tmp_path) -> None:
    (tmp_path / "engage.toml").write_text('[organisation]\nname = "A"\naddress = B\n')
    with pytest.raises(ConfigError) as caught:
        find_workspace(str(tmp_path))
    assert str(caught.value) == (
        f"{tmp_path.resolve() / 'engage.toml'}:3: engage.toml is not valid TOML: "
        "Invalid value (column 11)"
    )


def test_cli_reports_config_error_without_traceback(project) -> None:
    project.replace("engage.toml", 'lang = "en-GB"', 'lang = "en-GB"\nlanguage = "en"')
    result = project.run("campaigns", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: engage.toml: unknown key 'organisation.language'; the keys allowed in "
        "[organisation] are: address, charity_number, lang, name, website\n"
    )
    assert "Traceback" not in result.output


def test_secret_comes_from_the_environment_only(monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_TEST_KEY", "s3cret")
    assert secret("ENGAGE_TEST_KEY", "email.mailgun.api_key_env") == "s3cret"
    monkeypatch.delenv("ENGAGE_TEST_KEY")
    with pytest.raises(ConfigError) as caught:
        secret("ENGAGE_TEST_KEY", "email.mailgun.api_key_env")
    assert str(caught.value) == (
        "Set the environment variable ENGAGE_TEST_KEY (named by email.mailgun.api_key_env "
        "in engage.toml)."
    )
    assert "ENGAGE_TEST_KEY" not in os.environ


def test_config_not_utf8(tmp_path) -> None:
    (tmp_path / "engage.toml").write_bytes(b'[organisation]\nname = "Caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        find_workspace(str(tmp_path))
    assert str(caught.value) == (
        f"{tmp_path.resolve() / 'engage.toml'}:2: this file is not UTF-8 text (byte 26 cannot "
        "be read). Save it as UTF-8 and try again."
    )


def test_topics_keep_their_order_in_lower_case(tmp_path) -> None:
    (tmp_path / "engage.toml").write_text(
        '[organisation]\nname = "A"\naddress = "B"\n[topics]\n'
        'Walking = "Walking  groups"\nboccia = "Boccia"\n'
    )
    assert find_workspace(str(tmp_path)).config.topics == {
        "walking": "Walking groups",
        "boccia": "Boccia",
    }
