from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from pathlib import Path

import pytest

from engage.config import Config, find_workspace, secret
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
        (
            '[organisation]\nname = "A"\naddress = "B"\n[web]\nold_secret_key = "abc"\n',
            "engage.toml:5: unknown key 'web.old_secret_key'; the keys allowed in [web] are: "
            "allow_local_links, base_url, confirmations_per_day_per_address, consent_wording, "
            "old_secret_keys_env, "
            "secret_key_env, signup_tags, signups_per_hour_per_ip. Did you mean old_secret_keys_env? "
            "Secrets are never read from "
            "engage.toml: put the value in an environment variable and name that variable with "
            "a key ending in _env",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[web]\nold_secret_keys_env = "OLD"\n',
            "engage.toml:5: web.old_secret_keys_env must be a list",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[web]\nsignup_tags = "newsletter"\n',
            "engage.toml:5: web.signup_tags must be a list",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\nwalking = " "\n',
            "engage.toml:5: topics.walking has no words: write what people see next to its tick "
            'box, like walking = "Walking groups near you"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\nWalking = "a"\nwalking = "b"\n',
            "engage.toml:6: topics.walking is there twice (tags do not care about capitals)",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\nwalking = 3\n',
            "engage.toml:5: topics.walking must be text in quotes, not the number 3",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[topics]\n" " = "Walking"\n',
            'engage.toml: [topics] has an empty name: write a tag, like walking = "..."',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[replies]\nattachment_max_mb = 0\n',
            "engage.toml:5: replies.attachment_max_mb is 0: give the size in MB of the biggest "
            "file to keep, more than 0 and at most 1024, like attachment_max_mb = 25",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[replies]\nattachments_dir = " "\n',
            "engage.toml:5: replies.attachments_dir is empty: name a folder, like "
            'attachments_dir = "attachments"',
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email]\ntimeout = 0\n',
            "engage.toml:5: email.timeout is 0: give the seconds to wait for an answer, more "
            "than 0 and at most 600, like timeout = 30",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[replies.imap]\nhost = "h"\n'
            'user = "u"\ntimeout = -1\n',
            "engage.toml:7: replies.imap.timeout is -1: give the seconds to wait for an answer, "
            "more than 0 and at most 600, like timeout = 30",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[social.team]\nnetwork = "mastodon"\n'
            "timeout = 3600\n",
            "engage.toml:6: social.team.timeout is 3600: give the seconds to wait for an answer, "
            "more than 0 and at most 600, like timeout = 30",
        ),
        (
            '[organisation]\nname = "A"\naddress = "B"\n[email.smtp]\nconnections = 0\n',
            "engage.toml:5: email.smtp.connections is 0: give how many connections a send may "
            "open to the server at once, from 1 to 10, like connections = 2 (1, the default, if "
            "your relay allows only one)",
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


# --- docs/configuration.md tells the truth about every default ------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)
HEADER = re.compile(r"^\[([\w.]+)\]")
COMMENTED = re.compile(r"^#\s*([a-z_]+)\s*=")


def _toml_name(field: dataclasses.Field) -> str:
    return field.metadata.get("toml", field.name)


def _is_table(cls: type, field: dataclasses.Field) -> bool:
    hint = typing.get_type_hints(cls)[field.name]
    inner = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return typing.get_origin(hint) is dict or dataclasses.is_dataclass(inner[0])


def _default(field: dataclasses.Field) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _documented() -> tuple[dict[str, dict[str, object]], dict[str, set[str]]]:
    """From each defaults block in the doc: {table: {key: value}} and {table: {commented keys}}.
    A block that starts with "# For example" shows an example, not the defaults."""
    values: dict[str, dict[str, object]] = {}
    commented: dict[str, set[str]] = {}
    for block in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if block.startswith("# For example"):
            continue
        parsed = tomllib.loads(block)
        table = ""
        for line in block.splitlines():
            header = HEADER.match(line)
            if header:
                table = header.group(1)
                values.setdefault(table, {})
                if table == "social.NAME":
                    values[table] = parsed["social"]["NAME"]
                else:
                    node = parsed
                    for part in table.split("."):
                        node = node[part]
                    values[table] = {k: v for k, v in node.items() if not isinstance(v, dict)}
            elif found := COMMENTED.match(line):
                commented.setdefault(table, set()).add(found.group(1))
    return values, commented


def _tables() -> dict[str, type]:
    """Every [table] engage.toml can have, with its dataclass."""
    found: dict[str, type] = {}

    def walk(cls: type, prefix: str) -> None:
        for field in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[field.name]
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            inner = args[0] if args and typing.get_origin(hint) is not dict else hint
            if typing.get_origin(hint) is dict:
                if dataclasses.is_dataclass(typing.get_args(hint)[1]):  # not [topics]: tag = words
                    found[f"{prefix}{field.name}.NAME"] = typing.get_args(hint)[1]
            elif dataclasses.is_dataclass(inner):
                found[f"{prefix}{field.name}"] = inner
                walk(inner, f"{prefix}{field.name}.")

    walk(Config, "")
    return found


def test_every_documented_default_is_the_real_one() -> None:
    values, commented = _documented()
    wrong = []
    for table, cls in _tables().items():
        fields = {_toml_name(f): f for f in dataclasses.fields(cls) if not _is_table(cls, f)}
        shown = values.get(table, {})
        for key, value in shown.items():
            default = _default(fields[key]) if key in fields else "(no such setting)"
            if default is dataclasses.MISSING or value != default:
                wrong.append(f"[{table}] {key}: the doc says {value!r}, the code uses {default!r}")
        for key, field in fields.items():
            no_default = _default(field) in (dataclasses.MISSING, None)
            if no_default and key not in commented.get(table, set()):
                wrong.append(f"[{table}] {key}: has no default, so show it as a # line")
            if not no_default and key not in shown:
                wrong.append(f"[{table}] {key}: not in the doc's defaults")
    assert wrong == []


def test_the_doc_does_not_say_sending_is_still_to_come() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "later versions" not in text
    assert 'from = ""' in text and 'base_url = "http://127.0.0.1:8025"' in text
    assert "# rate_per_second = 50    # no default: as fast as the provider takes them" in text


def test_topics_keep_their_order_in_lower_case(tmp_path) -> None:
    (tmp_path / "engage.toml").write_text(
        '[organisation]\nname = "A"\naddress = "B"\n[topics]\n'
        'Walking = "Walking  groups"\nboccia = "Boccia"\n'
    )
    assert find_workspace(str(tmp_path)).config.topics == {
        "walking": "Walking groups",
        "boccia": "Boccia",
    }
