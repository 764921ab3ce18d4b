"""`engage init`: a new workspace that works at once (lint, build, a dry run), with every
template engage needs, made from the package so a pip-installed engage can do it too."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from engage import starter
from engage.cli import cli
from engage.config import load_workspace

REPO = Path(__file__).resolve().parent.parent
PACKAGE_TEMPLATES = REPO / "src" / "engage" / "templates"
KEY = "test-key-" + "k" * 32


def run(*args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return CliRunner().invoke(cli, list(args), env=env)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def expected_output(root: Path, cd: str | None, placeholders: bool = True) -> str:
    steps = [f"Go to the new folder: cd {cd}"] if cd else []
    if placeholders:
        steps.append(
            "Open engage.toml. Put in your organisation's name and postal address, and the "
            "address your emails come from."
        )
    steps += [
        "Add yourself, to see what your readers will get: engage contacts add you@example.org "
        '--first-name Sam --tag newsletter --consent "I asked for the news"',
        "Check the example email: engage lint our-first-newsletter",
        "See it in your web browser: engage preview our-first-newsletter",
        "Make the secret key that signs the links in your emails. Keep a copy somewhere safe: "
        "links only work with the key they were made with.\n"
        "     export ENGAGE_SECRET_KEY=\"$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))')\"",
        "Try sending it, without sending anything: engage send our-first-newsletter --dry-run",
    ]
    return "\n".join(
        [
            f"Made a new engage workspace in {root}:",
            "  engage.toml   your settings, with a note on each one",
            "  templates/    the email layouts, web pages and emails engage sends",
            "  campaigns/    an example email: our-first-newsletter.md",
            "  audiences/    who gets it: newsletter.toml",
            "",
            "What to do next:",
            *(f"  {n}. {step}" for n, step in enumerate(steps, 1)),
            "",
            "Before you send for real, choose how your email goes ([email] provider) and where "
            "your web app is ([web] base_url) in engage.toml. docs/configuration.md says how.",
            "",
        ]
    )


def test_init_makes_a_workspace_that_lints_builds_and_dry_runs(
    tmp_path, monkeypatch, db_url
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENGAGE_WORKSPACE", raising=False)
    result = run("init", "news")
    if db_url.startswith("postgresql"):  # the same steps with the team's database on PostgreSQL
        monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    else:
        monkeypatch.delenv("ENGAGE_DATABASE_URL", raising=False)
    root = tmp_path / "news"
    assert result.exit_code == 0, result.output
    assert result.output == expected_output(root, "news")
    assert sorted(p.name for p in root.iterdir()) == [
        ".gitignore",
        "audiences",
        "campaigns",
        "engage.toml",
        "templates",
    ]
    # Every template engage has, byte for byte.
    compared = filecmp.dircmp(PACKAGE_TEMPLATES, root / "templates")
    assert listing(root / "templates") == listing(PACKAGE_TEMPLATES)
    assert not compared.diff_files and not compared.left_only

    ws = ["--workspace", str(root)]
    added = run(*ws, "contacts", "add", "you@example.org", "--first-name", "Sam", "--tag",
                "newsletter", "--consent", "I asked for the news")  # fmt: skip
    assert added.exit_code == 0, added.output
    lint = run(*ws, "lint", "our-first-newsletter")
    assert lint.exit_code == 0, lint.output
    assert lint.output == (
        "campaigns/our-first-newsletter.md: info [reading-time] About 1 minute to read (78 "
        "words). As a whole, it is easy enough for beginner readers.\n"
        "0 errors, 0 warnings. Ready to send.\n"
    )
    built = run(*ws, "build", "our-first-newsletter")
    assert built.exit_code == 0, built.output
    out = root / "build" / "our-first-newsletter"
    assert built.output.splitlines() == [
        str(out / "index.html"),
        str(out / "large-print.html"),
        str(out / "index.txt"),
    ]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Hello Sam," in html and "Your organisation" in html
    dry = run(*ws, "send", "our-first-newsletter", "--dry-run", env={"ENGAGE_SECRET_KEY": KEY})
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output
    assert not (root / "outbox").exists()  # a dry run sends nothing


def test_init_here_with_the_organisation_given(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = 'The "Best" Club \\ Leeds'
    result = run("init", "--organisation", name, "--address", "1 Park Row, Leeds LS1 5AB")
    assert result.exit_code == 0, result.output
    assert result.output == expected_output(tmp_path, None, placeholders=False)
    config = load_workspace(tmp_path / "engage.toml").config
    assert config.organisation.name == name
    assert config.organisation.address == "1 Park Row, Leeds LS1 5AB"
    assert config.email.from_ == f"{name} <news@example.org>"


def test_the_new_settings_hold_no_secrets_and_say_what_each_one_is(tmp_path) -> None:
    starter.create(tmp_path)
    text = (tmp_path / "engage.toml").read_text(encoding="utf-8")
    settings = tomllib.loads(text)
    assert settings["web"]["secret_key_env"] == "ENGAGE_SECRET_KEY"
    flat = [key for table in settings.values() for key in table]
    assert not [k for k in flat if k.endswith(("key", "token", "password", "secret"))]
    assert text.count("\n#") >= 10  # notes for the reader
    assert "__" not in text  # every placeholder was filled in


def test_init_as_a_command_in_the_current_folder(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("ENGAGE_WORKSPACE", None)
    done = subprocess.run(
        [sys.executable, "-m", "engage", "init"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected_output(tmp_path, None)
    assert (tmp_path / "templates" / "web" / "subscribe.html.j2").is_file()


def test_init_refuses_an_existing_workspace(tmp_path) -> None:
    starter.create(tmp_path)
    (tmp_path / "engage.toml").write_text("# ours\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run("init", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: There is already a workspace in {tmp_path}: it has engage.toml. engage init "
        "never changes a workspace. Choose a new folder, like: engage init news\n"
    )
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_refuses_a_folder_with_parts_of_a_workspace(tmp_path) -> None:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "mine.md").write_text("mine", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("mine", encoding="utf-8")
    result = run("init", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path} already has campaigns, .gitignore, which engage init would write. "
        "Nothing was changed. Choose an empty or new folder, like: engage init news\n"
    )
    assert listing(tmp_path) == [".gitignore", "campaigns", "campaigns/mine.md"]


def test_init_into_a_folder_with_other_files_keeps_them(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("ours", encoding="utf-8")
    result = run("init", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "ours"
    assert (tmp_path / "engage.toml").is_file()


def test_a_failure_part_way_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    real_rename = os.rename

    def rename_fails_on_campaigns(source, target):  # noqa: ANN001
        if Path(target).name == "campaigns":
            raise OSError(28, "No space left on device")
        return real_rename(source, target)

    monkeypatch.setattr(starter.os, "rename", rename_fails_on_campaigns)
    (tmp_path / "notes.txt").write_text("ours", encoding="utf-8")
    result = run("init", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: Cannot make a workspace in {tmp_path}: No space left on device. Nothing was "
        "written; choose a folder you can write to.\n"
    )
    assert listing(tmp_path) == ["notes.txt"]

    new = tmp_path / "new"
    assert run("init", str(new)).exit_code == 1
    assert not new.exists()


def test_the_package_holds_the_one_copy_of_each_template() -> None:
    """The example workspace's templates/ is a link to the package's, and the package data
    (what pip installs) takes in the templates and the starter files."""
    assert (REPO / "templates").is_symlink()
    assert (REPO / "templates").resolve() == PACKAGE_TEMPLATES
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = data["tool"]["setuptools"]["package-data"]["engage"]
    assert "templates/**/*" in globs and "starter/**/*" in globs
    assert (PACKAGE_TEMPLATES / "emails" / "subjects.toml").is_file()


@pytest.mark.parametrize("part", ["campaigns/our-first-newsletter.md", "audiences/newsletter.toml"])
def test_the_starter_files_are_in_the_package(part: str) -> None:
    assert (REPO / "src" / "engage" / "starter" / part).is_file()
