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
            "engage.toml:4: unknown key 'organisation.colour'; the keys allowed in [organisation] "
            "are: address, charity_number, lang, name, website",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email]\nrate_per_second = "fast"\n',
            'engage.toml:5: email.rate_per_second must be a number, not the text "fast"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email]\nprovider = "mailchimp"\n',
            'engage.toml:5: email.provider must be "outbox" or "smtp" or "mailgun" or "postmark" '
            'or "sendgrid", not "mailchimp"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email.smtp]\nport = "587"\n',
            'engage.toml:5: email.smtp.port must be a whole number, not the text "587"',
        ),
        (
            '[organisation]\nname = "A"\n',
            "engage.toml:1: organisation.address is missing: add it under [organisation]",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email.mailgun]\napi_key = "key-123"\n',
            "engage.toml:5: unknown key 'email.mailgun.api_key'; the keys allowed in "
            "[email.mailgun] are: api_key_env, base_url, domain, webhook_signing_key_env. "
            "Did you mean api_key_env? Secrets are never read from engage.toml: put the value in an environment variable "
            "and name that variable with a key ending in _env",
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
        f"{tmp_path.resolve() / 'engage.toml'}:3: engage.toml cannot be read: text must be in "
        'double quotes. Write address = "B".'
    )


def test_cli_reports_config_error_without_traceback(project) -> None:
    project.replace("engage.toml", 'lang = "en-GB"', 'lang = "en-GB"\nlanguage = "en"')
    result = project.run("campaigns", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: engage.toml:11: unknown key 'organisation.language'; the keys allowed in "
        "[organisation] are: address, charity_number, lang, name, website. Did you mean lang?\n"
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
