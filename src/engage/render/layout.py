"""Layouts in templates/: Jinja with strict variables, errors named by template and line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from .. import i18n
from ..errors import TemplateError
from . import placeholders

HTML_SUFFIXES = (".mjml.j2", ".html.j2")


def environment(templates_dir: Path, words: i18n.Translations | None = None) -> jinja2.Environment:
    """The layouts' Jinja environment. `words`: the translations `_()` in a layout uses (the
    campaign's language: i18n.translations); English as written when not given."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=lambda name: name is not None and name.endswith(HTML_SUFFIXES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    i18n.install(env, words or i18n.english())
    return env


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    with template_errors(env, context):
        return env.get_template(name).render(context)


def sources(env: jinja2.Environment, name: str) -> list[Path]:
    """The template file `name` and every file it includes or extends, in order."""
    seen: list[Path] = []
    pending = [name]
    while pending:
        current = pending.pop(0)
        with template_errors(env):
            source, filename, _ = env.loader.get_source(env, current)  # type: ignore[union-attr]
        path = Path(filename or current)
        if path in seen:
            continue
        seen.append(path)
        with template_errors(env):
            refs = jinja2.meta.find_referenced_templates(env.parse(source, current, filename))
        pending.extend(ref for ref in refs if ref)
    return seen


@contextmanager
def template_errors(
    env: jinja2.Environment, context: dict[str, Any] | None = None
) -> Iterator[None]:
    """Turn Jinja's exceptions into one line that names the template file and line, and for a
    placeholder that does not exist, the ones in `context` that do."""
    folder = _folder(env)
    try:
        yield
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(
            f"Template '{exc.name}' not found: looked for {folder / str(exc.name)}. "
            "Check the template name in the campaign's front matter, or add the file."
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        where = _shown(folder, exc.filename or exc.name or "?")
        said = placeholders.syntax(exc.message or "")
        raise TemplateError(f"{where}:{exc.lineno}: {said}.") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(_undefined(exc, folder, context or {})) from None


def _undefined(exc: jinja2.UndefinedError, folder: Path, context: dict[str, Any]) -> str:
    found = placeholders.frame(exc, folder)
    where, source, line = str(folder), "", 0
    if found:
        path, line = found
        where = f"{_shown(folder, str(path))}:{line}"
        source = path.read_text(encoding="utf-8")
    return (
        f"{where}: {placeholders.missing(exc, context, source, line)} Check the spelling; "
        "docs/templates.md lists every placeholder a layout can use."
    )


def _folder(env: jinja2.Environment) -> Path:
    loader = env.loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    return Path(loader.searchpath[0])


def _shown(folder: Path, filename: str) -> str:
    path = Path(filename)
    try:
        return str(Path(folder.name) / path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path)
