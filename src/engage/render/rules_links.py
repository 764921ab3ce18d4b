"""Lint rules for where the email's links and pictures point: places every reader can reach.

The unsubscribe, preferences and web version links go to [web] base_url. When the email goes to
real people (any provider but the outbox, which only writes files), those links must be https
(RFC 8058: one-click unsubscribe, List-Unsubscribe-Post, needs an https address) and must not
point at this computer or a private network, where nobody who gets the email can reach them.
`engage send` runs lint first, so it refuses the same.

Pictures must be full https web addresses too: an email has no folder to find a file path in,
many mail programs never show a picture written into the email as data (a data: address), and
a picture from a private address shows for nobody.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Workspace
from .findings import Finding

# Names that only mean something on this computer or a home or office network.
LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")


def local_reason(host: str) -> str:
    """Why nobody outside can reach `host` (a name or IP address), or "" when they can."""
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        return "it has no host name"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(LOCAL_NAMES):
            return f"{host} is a name for this computer or a private network"
        if "." not in host:
            return f"{host} is a name with no dot, which only a private network knows"
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return f"{host} is this computer"
    if not ip.is_global:
        return f"{host} is a private network address"
    return ""


def base_url(workspace: Workspace) -> list[Finding]:
    """[web] base_url, when the email goes to real people: https, and reachable by them."""
    config = workspace.config
    if config.email.provider == "outbox":
        return []  # the outbox only writes files: trying engage on one computer is fine
    url = config.web.base_url.strip()
    parts = urlsplit(url)
    where = _toml_line(workspace.root / "engage.toml", "web", "base_url")
    links = "the unsubscribe, preferences and web version links in every email"
    local = local_reason(parts.hostname or "") if parts.scheme in ("http", "https") else ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            Finding(
                "base-url",
                where,
                f"[web] base_url is {url!r}, which is not a web address, so {links} would not "
                "work.",
                _FIX,
            )
        ]
    if local:
        allowed = config.web.allow_local_links
        return [
            Finding(
                "base-url-local-allowed" if allowed else "base-url",
                where,
                f"[web] base_url is {url}, and {local}: nobody who gets the email can reach it, "
                f"so {links} would not work.",
                _ALLOWED_FIX if allowed else _FIX,
            )
        ]
    if parts.scheme != "https":
        return [
            Finding(
                "base-url",
                where,
                f"[web] base_url is {url}, which is not https: one-click unsubscribe needs an "
                "https address (RFC 8058), and the links would not be private.",
                _FIX,
            )
        ]
    return []


_FIX = (
    "Set base_url in [web] of engage.toml to your web app's public https address, like "
    '"https://news.example.org". See docs/configuration.md.'
)


_ALLOWED_FIX = (
    "allow_local_links = true in [web] lets this through, for trying engage on one computer. "
    "Before you send to other people, remove it and set base_url to your web app's public "
    'https address, like "https://news.example.org".'
)


def _toml_line(path: Path, table: str, key: str) -> str:
    """ "engage.toml:LINE" for a key in a table, or the file alone when it is not written."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError:
        return path.name
    current = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[] ")
        elif current == table and re.match(rf"{re.escape(key)}\s*=", stripped):
            return f"{path.name}:{number}"
    return path.name


# --- pictures ---------------------------------------------------------------------------------


def image_source(src: str, where: str, name: str) -> Iterator[Finding]:
    """A picture's src, as an email can load it: a full https address every reader can reach."""
    src = src.strip()
    if not src or "{{" in src or "{%" in src:
        return  # a template value: checked where it comes from
    parts = urlsplit(src)
    scheme = parts.scheme.lower()
    if scheme == "data":
        yield Finding(
            "image-data",
            where,
            "A picture is written into the email as data (a data: address). Many mail "
            "programs, like Gmail and Outlook, never show such pictures, and engage leaves it "
            "out.",
            _IMAGE_FIX,
        )
    elif not scheme and not src.startswith("//"):
        yield Finding(
            "image-path",
            where,
            f"The picture {src} is a file path, not a web address. An email cannot load "
            "pictures from a folder, so nobody would see it.",
            _IMAGE_FIX,
        )
    elif scheme not in ("http", "https", ""):
        yield Finding(
            "image-path",
            where,
            f"The picture {src} is a {scheme}: address, which mail programs cannot load, and "
            "engage leaves it out.",
            _IMAGE_FIX,
        )
    elif local_reason(parts.hostname or ""):
        yield Finding(
            "image-local",
            where,
            f"The picture {name} is at {src}, and {local_reason(parts.hostname or '')}: nobody "
            "who gets the email can see it.",
            _IMAGE_FIX,
        )
    elif scheme != "https":
        yield Finding(
            "image-not-https",
            where,
            f"The picture {name} is at {src}, which is not https. The web version blocks it, "
            "and anyone on the reader's network can see it being fetched.",
            "Use the picture's https:// address.",
        )


_IMAGE_FIX = (
    "Put the picture on your website (or another public place) and use its full https "
    "address, like ![Two people playing boccia](https://www.example.org/images/boccia.jpg)."
)
