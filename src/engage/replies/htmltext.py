"""An HTML mail as lines of text, for reply cleaning (replies/clean.py): paragraphs and line
breaks kept, scripts and styles left out, and each line inside a <blockquote> marked with a
\\x02 per level, so the cleaner can decide whether the block quotes a message or is the
person's own indented words.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

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
            # marked with \2 for now: html_to_text decides whether it is a quote
            inner = _tidy("".join(self.stack.pop()))
            quoted = "\n".join("\2 " + ln if ln else "\2" for ln in inner.split("\n"))
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


def marked_text(html: str) -> str:
    """The text of an HTML mail, <blockquote> lines marked with \\x02 (see the module)."""
    parser = _TextParser()
    parser.feed(html or "")
    parser.close()
    while len(parser.stack) > 1:  # unclosed <blockquote>
        parser.handle_endtag("blockquote")
    return _tidy("".join(parser.stack[0]))
