"""Set aside quoted text, "On ... wrote:" blocks and signatures so a reply shows only new words.

The rules are our own (no third-party parser): they cover Gmail, Outlook, Apple Mail,
Thunderbird, interleaved "> " quoting, French/German/Spanish/Dutch/Italian reply headers,
forwarded messages and the common "-- " and "Sent from my ..." signatures. Nothing is ever
thrown away: what is not in ``text`` is in ``quoted`` or ``signature``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class Cleaned:
    text: str  # the new words only, stripped, with paragraphs kept
    quoted: str  # quotes, "On ... wrote:" and everything below, forwarded parts
    signature: str  # "-- " blocks and "Sent from my iPhone"-style lines


_QUOTE = re.compile(r"^\s*>(?:[ >]|$)")
# Reply headers, matched on up to three joined lines (Gmail wraps long ones). A digit is
# required so that "On Tuesday I wrote:" in someone's own words is not taken for a header.
_HEADER_START = re.compile(r"^\s*(On|Le|Am|El|Op|Il)\s", re.I)
_HEADER = re.compile(
    r"^\s*(?:On\s.*\bwrote|Le\s.*\ba\s+écrit|Am\s.*\bschrieb\b.*|El\s.*\bescribió"
    r"|Op\s.*\bschreef\b.*|Il\s.*\bha\s+scritto)\s*:\s*$",
    re.I,
)
_CUT = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Forwarded message|Forwarded Message|"
    r"Message d'origine|Message transféré|Ursprüngliche Nachricht|Weitergeleitete Nachricht)"
    r"\s*-{2,}|Begin forwarded message:|Début du message réexpédié\s*:"
    # where a mail system's failure notice starts the copy of our message (Exim, qmail)
    r"|-{2,}\s*This is a copy of the message(?:'s headers|, including all the headers)\.\s*-{2,}"
    r"|-{2,}\s*Below this line is a copy of the message\.)\s*$",
    re.I,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_FROM = re.compile(r"^\s*\*?(From|De|Von)\s?:\*?\s+\S", re.I)
_SENT = re.compile(r"^\s*\*?(Sent|Date|Envoyé|Gesendet|Datum)\s?:", re.I)
_SIG_DASHES = re.compile(r"^--\s?$")
_SIG_MOBILE = re.compile(
    r"^\s*(?:Sent from (?:my|Mail|Outlook|Yahoo|Samsung|Proton|AOL)\b"
    r"|Get Outlook for (?:iOS|Android)\b|Envoyé de mon\s|Von meinem\s.*\sgesendet)",
    re.I,
)

_TEXT, _QUOTED, _SIG, _BLANK = "text", "quoted", "signature", "blank"


def _header_end(lines: list[str], i: int) -> int | None:
    """If a reply header starts at line i, the index just after it."""
    if not _HEADER_START.match(lines[i]):
        return None
    joined = ""
    for j in range(i, min(i + 3, len(lines))):
        if not lines[j].strip():
            return None
        joined = f"{joined} {lines[j].strip()}".replace("\xa0", " ")
        if len(joined) > 400:
            return None
        if _HEADER.match(joined) and re.search(r"\d", joined):
            return j + 1
    return None


def _next_nonblank(lines: list[str], i: int) -> int | None:
    return next((j for j in range(i, len(lines)) if lines[j].strip()), None)


def _is_from_block(lines: list[str], i: int) -> bool:
    """Outlook's "From: ... / Sent: ..." header of the message being replied to."""
    return bool(_FROM.match(lines[i])) and any(_SENT.match(line) for line in lines[i + 1 : i + 5])


def _classify(lines: list[str]) -> list[str]:
    kinds = [_BLANK if not line.strip() else _TEXT for line in lines]
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _QUOTE.match(line):
            kinds[i] = _QUOTED
            i += 1
            continue
        end = _header_end(lines, i)
        if end is not None:
            nxt = _next_nonblank(lines, end)
            if nxt is not None and _QUOTE.match(lines[nxt]):
                kinds[i:end] = [_QUOTED] * (end - i)  # "> " quoting follows: may be interleaved
                i = end
                continue
            break
        if _CUT.match(line) or _is_from_block(lines, i):
            break
        if _UNDERSCORES.match(line):
            nxt = _next_nonblank(lines, i + 1)
            if nxt is not None and _is_from_block(lines, nxt):
                break
        i += 1
    kinds[i:] = [_QUOTED] * (len(lines) - i)  # everything from a cut is set aside

    in_signature = False
    for i, line in enumerate(lines):
        if kinds[i] == _QUOTED:
            in_signature = False
        elif kinds[i] == _TEXT:
            if _SIG_DASHES.match(line) or _SIG_MOBILE.match(line):
                in_signature = True
            if in_signature:
                kinds[i] = _SIG
    return kinds


def _join(lines: list[str], kinds: list[str], want: str) -> str:
    out: list[str] = []
    gap = False
    for line, kind in zip(lines, kinds, strict=True):
        if kind == want:
            if gap and out:
                out.append("")
            out.append(line.rstrip())
            gap = False
        elif kind == _BLANK:
            out.append("")
        else:
            gap = True
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n").rstrip()


def clean_text(text: str) -> Cleaned:
    """Split a plain-text reply into the new words, what it quotes, and its signature."""
    # U+FEFF is invisible; Apple Mail puts one where the quoted message begins.
    text = (text or "").replace("\ufeff", "")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kinds = _classify(lines)
    return Cleaned(
        text=_join(lines, kinds, _TEXT).lstrip(),
        quoted=_join(lines, kinds, _QUOTED).lstrip(),
        signature=_join(lines, kinds, _SIG).lstrip(),
    )


_SKIP = {"style", "script", "head", "title", "template"}
_BLOCK = {"div", "tr", "table", "ul", "ol", "section", "article", "header", "footer", "pre"}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[list[str]] = [[]]  # one buffer per open <blockquote>
        self.skip = 0
        self.pre = 0
        self.lists = 0
        self.line = False  # in a Word paragraph, which is one line (see handle_starttag)
        self.link: tuple[str, int] | None = None  # href, index in buffer where its text starts

    def _put(self, s: str) -> None:
        self.stack[-1].append(s)

    def _newline(self) -> None:
        """A line break, unless the text already ends with one (adjacent <div>s)."""
        text = "".join(self.stack[-1][-3:]).rstrip(" ")
        if text and not text.endswith("\n"):
            self._put("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self._put("\n")
        elif tag == "hr":
            self._put("\n" + "_" * 32 + "\n")
        elif tag == "p" and "msonormal" in a.get("class", "").lower():
            # Outlook writes every line as <p class=MsoNormal> with no margin, and a blank
            # line as one holding only &nbsp;: each is one line, not a paragraph.
            self._newline()
            self.line = True
        elif tag in _PARAGRAPH:
            self._put("\n\n")
        elif tag in _BLOCK:
            self.lists += tag in ("ul", "ol")
            self.pre += tag == "pre"
            self._newline()
            if "gmail_signature" in a.get("class", ""):
                self._put("-- \n")
        elif tag == "li":
            self._newline()  # \1 survives line stripping; it becomes indentation in _tidy
            self._put("\1\1" * max(self.lists - 1, 0) + "- ")
        elif tag == "td":
            self._put(" ")
        elif tag == "blockquote":
            self.stack.append([])
        elif tag == "a":
            self.link = (a.get("href", "").strip(), len(self.stack[-1]))
        elif tag == "img" and a.get("alt", "").strip():
            self._put(f"[image: {a['alt'].strip()}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag == "p" and self.line:
            self._put("\n")
            self.line = False
        elif tag in _PARAGRAPH:
            self._put("\n\n")
        elif tag in _BLOCK:
            self.lists -= tag in ("ul", "ol") and self.lists > 0
            self.pre -= tag == "pre" and self.pre > 0
            self._newline()
        elif tag == "blockquote" and len(self.stack) > 1:
            inner = _tidy("".join(self.stack.pop()))
            quoted = "\n".join("> " + ln if ln else ">" for ln in inner.split("\n"))
            self._put("\n" + quoted + "\n")
        elif tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            label = "".join(self.stack[-1][start:]).strip()
            bare = href.removeprefix("mailto:")
            if href and not href.startswith("#") and bare not in (label, ""):
                self._put(f" ({href})" if label else bare)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._put(data if self.pre else re.sub(r"\s+", " ", data))


def _tidy(text: str) -> str:
    lines = [ln.replace("\xa0", " ").strip() for ln in text.replace("\0", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().replace("\1", " ")


def html_to_text(html: str) -> str:
    """Readable text from an HTML mail; <blockquote> content comes out as "> " lines."""
    parser = _TextParser()
    parser.feed(html or "")
    parser.close()
    while len(parser.stack) > 1:  # unclosed <blockquote>
        parser.handle_endtag("blockquote")
    return _tidy("".join(parser.stack[0]))


def clean(text: str | None, html: str | None) -> Cleaned:
    """Clean a reply, preferring its plain-text part and falling back to its HTML."""
    if text and text.strip():
        return clean_text(text)
    return clean_text(html_to_text(html) if html else "")


_EIGHT_BIT = {"ascii", "latin_1", "iso8859_1", "iso8859_15", "cp1252"}


def _fallback(payload: bytes) -> tuple[str, str]:
    try:
        return payload.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return payload.decode("cp1252"), "Windows Latin-1"
    except UnicodeDecodeError:
        return payload.decode("latin-1"), "Latin-1"


def decode(payload: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode a message part; never raises. Returns the text and a warning, or None."""
    if isinstance(payload, str):
        return payload, None
    payload = bytes(payload or b"")
    name = (charset or "").strip().strip("\"'").strip()
    if not name:
        text, used = _fallback(payload)
        if used == "UTF-8":
            return text, None
        return text, f"No character set was declared and the text is not UTF-8; read as {used}."
    try:
        codec = codecs.lookup(name).name
        text = payload.decode("utf-8-sig" if codec == "utf-8" else codec)
    except (LookupError, ValueError, TypeError) as exc:
        text, used = _fallback(payload)
        if isinstance(exc, UnicodeDecodeError):
            problem = f"said it was in {name!r} but it is not"
        else:
            problem = f"said it was in {name!r}, which is not a character set we know"
        doubt = "" if used == "UTF-8" else ", so some letters may be wrong"
        return text, f"The message {problem}; it was read as {used}{doubt}."
    if codec.replace("-", "_") in _EIGHT_BIT and not payload.isascii():
        try:
            utf8 = payload.decode("utf-8")
        except UnicodeDecodeError:
            return _windows(payload, text) if codec == "iso8859-1" else text, None
        return utf8, f"The message said it was in {name!r} but it is UTF-8; it was read as UTF-8."
    return text, None


def _windows(payload: bytes, latin1: str) -> str:
    """Text labelled ISO-8859-1 read as Windows Latin-1, as browsers do: mail programs on
    Windows label their curly quotes and dashes (bytes 0x80-0x9F) as ISO-8859-1, where those
    bytes are invisible control codes."""
    try:
        return payload.decode("cp1252")
    except UnicodeDecodeError:  # one of the five bytes Windows Latin-1 leaves unused
        return latin1
