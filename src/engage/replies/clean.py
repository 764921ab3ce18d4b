"""Set aside quoted text, "On ... wrote:" blocks and signatures so a reply shows only new words.

The rules are our own (no third-party parser): they cover Gmail, Outlook, Apple Mail,
Thunderbird, interleaved "> " quoting, French/German/Spanish/Dutch/Italian reply headers,
forwarded messages and the common "-- " and "Sent from my ..." signatures. Nothing is ever
thrown away: what is not in ``text`` is in ``quoted`` or ``signature``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .htmltext import marked_text


@dataclass(frozen=True)
class Cleaned:
    text: str  # the new words only, stripped, with paragraphs kept
    quoted: str  # quotes, "On ... wrote:" and everything below, forwarded parts
    signature: str  # "-- " blocks and "Sent from my iPhone"-style lines


# A quoted line: ">" then a space, another ">", the end, or a letter ("&gt;Hi" from some
# programs). ">50 people" or ">= 3" in someone's own words is not a quote.
_QUOTE = re.compile(r"^\s*>(?![\d=:-])")

# The words mail programs put at the end of a reply header ("On ... wrote:"), checked against
# Gmail's, Outlook's, Apple Mail's and Thunderbird's strings in each language we cover.
_VERBS = (
    r"wrote|a\s+écrit|schrieb|escribió|escreveu|schreef|het\s+volgende\s+geschreven"
    r"|ha\s+scritto|scrisse|skrev|kirjoitti|pisze|napisał\(a\)|napisała?|nadesłał"
    r"|пишет|написал\(а\)|написала?|đã\s+viết|ysgrifennodd"
)
# A header: up to three joined lines (Gmail wraps long ones), ending in one of those verbs and
# a colon ("wrote" without one after an address), or a date header ending "<address>:". A
# digit is required and "I wrote:" is not a header, so that "On Tuesday I wrote:" in someone's
# own words stays theirs.
_HEADER = re.compile(
    rf"^(?P<h>.*?(?<![Ii]\s)(?<!\b[Ww]e\s)(?:{_VERBS})(?:\s*\S{{0,3}}:|(?<=wrote))"
    r"|.*?<?\s*(?<![\w.+'-])[\w.+'-]+@[\w.-]+\s*>?\)?\s*:)\s*$",
    re.I,
)
_LONGEST = 300  # characters: a reply header, even wrapped over three lines, is shorter
# Where a header may start after a reply's words on the same line.
_SHARED_START = re.compile(
    r"(?<=\S)\s+(?=(?:On|Le|Am|Den|Op|W dniu|Vào|Ar)\s|\d{4}[-/]\d\d?[-/]\d\d?\s)"
)
# A header inside dashes: Zoho's "---- On ... wrote ----", Android's "---- Sam wrote ----".
_DASHED_HEADER = re.compile(rf"^\s*-{{2,}}\s*\S.*\b(?:{_VERBS})\s*:?\s*-{{2,}}\s*$", re.I)
# "-----Original Message-----" and the like: a separator line whose words name a message.
_SEPARATOR = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:Original|Reply|Forwarded|Oprindelig|Videresendt|Ursprüngliche"
    r"|Weitergeleitete|Originalmeddelande|Vidarebefordrat|Opprinnelig|Videresendt"
    r"|Oorspronkelijk|Doorgestuurd|Wiadomość|Исходное|Пересылаемое|Переслано|Message|Mensaje"
    r"|Messaggio|Mensagem|Alkuperäinen|Tin nhắn|Neges)\b[^\n]{0,60}?[-=_*]{2,}\s*$",
    re.I,
)
_CUT = re.compile(
    r"^\s*(?:Begin forwarded message:|Début du message réexpédié\s*:|Anfang der weitergeleiteten"
    r"\s+Nachricht:"
    # where a mail system's failure notice starts the copy of our message (Exim, qmail)
    r"|-{2,}\s*This is a copy of the message(?:'s headers|, including all the headers)\.\s*-{2,}"
    r"|-{2,}\s*Below this line is a copy of the message\.)\s*$",
    re.I,
)
# A forward (rather than a reply): what is under it is what the person is sharing.
_FORWARD = re.compile(
    r"forward|réexpédié|transféré|weitergeleitet|videresendt|vidarebefordrat|doorgestuurd"
    r"|przekazana|пересылаемое|переслано",
    re.I,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
# The lines of a quoted message's header block (Outlook, Hotmail, Apple Mail, Thunderbird), in
# each language: "From:", "Sent:", "To:", "Subject:", "Date:", "Cc:".
_FROM_WORDS = r"From|De|Von|Fra|Från|Van|Od|От|Từ|Oddi\s+wrth|Da|Lähettäjä"
_KEY_WORDS = (
    _FROM_WORDS + r"|Sent|Date|Envoyé(?:\s+le)?|Gesendet|Datum|Sendt|Dato|Skickat|Verzonden"
    r"|Wysłano|Data|Отправлено|Дата|Đã\s+gửi|Ngày|Anfonwyd|Dyddiad|Inviato|Enviado|Lähetetty"
    r"|To|À|A|An|Til|Till|Aan|Do|Кому|Tới|At|Para|Vastaanottaja"
    r"|Subject|Objet|Sujet|Betreff|Emne|Ämne|Onderwerp|Temat|Тема|Chủ\s+đề|Pwnc|Oggetto|Asunto"
    r"|Assunto|Aihe|Cc|Kopie|Kopia|Копия|Copie\s+à|DW"
)
_KEY = re.compile(rf"^\s*\*?(?:{_KEY_WORDS})\s*\*?\s*:\s*\*?", re.I)
_FROM = re.compile(rf"^\s*\*?(?:{_FROM_WORDS})\s*\*?\s*:\s*\*?\s*\S", re.I)
_SIG_DASHES = re.compile(r"^--\s?$")
_SIG_FOOTER = re.compile(r"^\s*_{2,}\s*$")  # a mailing list's footer below the message
# "Sent from my iPhone" and its kin: a signature only as the short last line of a message.
_SIG_MOBILE = re.compile(
    r"^\s*(?:Sent from\s|Sent with\s|Get Outlook for\s|Envoyé de mon\s|Envoyé depuis\s"
    r"|Envoyé à partir de\s|Von meinem\s.*\sgesendet|Gesendet von\s|Sendt fra\s|Hent Outlook"
    r"|Skickat från\s|Verzonden (?:vanaf|met)\s|Verstuurd vanaf\s|Wysłane z\s|Wysłano z\s"
    r"|Отправлено с\s|Gửi từ\s|Anfonwyd o\s|Inviato da\s|Enviado desde\s|Enviado do\s|Lähetetty)",
    re.I,
)
_LINK = re.compile(r"<[^<>\s]+>|\(https?://\S+\)")

_TEXT, _QUOTED, _SIG, _BLANK = "text", "quoted", "signature", "blank"


# How a reply header begins: "On", "Le", "Den", "W dniu", ... or a date ("2011/4/7",
# "tir. 18. apr.", "Wednesday, 17 November").
_HEADER_START = re.compile(
    r"^\W{0,3}(?:(?:On|Le|Am|El|Em|Op|Il|In data|Den|Dnia|W dniu|Vào|Ar)\s|\d|\w{1,9}\.?,?\s+\d)",
    re.I,
)


def _header_end(lines: list[str], i: int) -> int | None:
    """If a reply header starts at line i, the index just after it."""
    if len(lines[i]) > _LONGEST:
        return None
    if _DASHED_HEADER.match(lines[i]):
        return i + 1
    if not _HEADER_START.match(lines[i]):
        return None
    joined = ""
    for j in range(i, min(i + 3, len(lines))):
        if not lines[j].strip() or (j > i and _QUOTE.match(lines[j])):
            return None
        joined = f"{joined} {lines[j].strip()}".replace("\xa0", " ").strip()
        if len(joined) > _LONGEST:
            return None
        if re.search(r"\d", joined) and _HEADER.match(joined):
            return j + 1
    return None


def _next_nonblank(lines: list[str], i: int) -> int | None:
    return next((j for j in range(i, len(lines)) if lines[j].strip()), None)


def _is_header_block(lines: list[str], i: int) -> bool:
    """A quoted message's "From: / Sent: / To: / Subject:" block (or "Date:" first)."""
    if not _KEY.match(lines[i]):
        return False
    block = [ln for ln in lines[i : i + 6] if ln.strip()][:5]
    keys = [ln for ln in block if _KEY.match(ln)]
    return (
        len(keys) >= 3
        and any(_FROM.match(ln) for ln in keys)
        or (len(keys) >= 2 and bool(_FROM.match(lines[i])) and len(keys) == len(block[:2]))
    )


def _block_start(lines: list[str], i: int) -> int:
    """Take in the separator or "Message du : <date>" lines just above a header block."""
    for _ in range(2):
        k = i - 1
        while k > 0 and not lines[k].strip():
            k -= 1
        above = lines[k] if k >= 0 else ""
        if re.fullmatch(r"\s*[-=_*]{2,}\s*", above) or re.fullmatch(
            r"\s*\w[\w ]{0,20}\s*:\s*\S.*\d.*", above
        ):
            i = k
        else:
            break
    return i


def _wrapped(lines: list[str], i: int) -> bool:
    """A quoted line that a mail program wrapped without its ">" (directly between two
    quoted lines, starting in lower case, after a long line)."""
    if i == 0 or i + 1 >= len(lines):
        return False
    above, below, line = lines[i - 1], lines[i + 1], lines[i].strip()
    return (
        bool(_QUOTE.match(above) and _QUOTE.match(below))
        and len(above.strip()) >= 60
        and line[:1].islower()
    )


def _few_words(lines: list[str], kinds: list[str], end: int) -> bool:
    """Only a short note ("FYI", "See below") above a forward."""
    words = [w for i in range(end) if kinds[i] == _TEXT for w in lines[i].split()]
    return len(words) <= 5


def _split_shared_lines(lines: list[str]) -> list[str]:
    """A reply that ends on the same line as the header below it ("Thanks! On ... wrote:").
    Only the end of a line is searched (a header is at most _LONGEST long), so a long line
    costs no more than a short one."""
    out: list[str] = []
    for line in lines:
        found = None
        if not _QUOTE.match(line) and _header_end([line], 0) is None:
            tail = max(0, len(line) - _LONGEST)
            found = next(
                (
                    m
                    for m in _SHARED_START.finditer(line, tail)
                    if _header_end([line[m.end() :]], 0) is not None
                ),
                None,
            )
        if found is not None:
            out += [line[: found.start()], line[found.end() :]]
        else:
            out.append(line)
    return out


def _classify(lines: list[str]) -> list[str]:
    kinds = [_BLANK if not line.strip() else _TEXT for line in lines]
    i = 0
    replying = False  # a reply header with "> " quoting below it was seen
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _QUOTE.match(line) or (replying and _wrapped(lines, i)):
            kinds[i] = _QUOTED
            i += 1
            continue
        end = _header_end(lines, i)
        if end is not None:
            nxt = _next_nonblank(lines, end)
            if nxt is not None and _QUOTE.match(lines[nxt]):
                kinds[i:end] = [_QUOTED] * (end - i)  # "> " quoting follows: may be interleaved
                replying = True
                i = end
                continue
            break
        if _SEPARATOR.match(line) or _CUT.match(line):
            if _FORWARD.search(line) and _few_words(lines, kinds, i):
                i += 1  # "FYI" and a forward: show what is shared, with its header block
                nxt = _next_nonblank(lines, i)
                if nxt is not None and _is_header_block(lines, nxt):
                    i = nxt
                    while i < len(lines) and _KEY.match(lines[i]):
                        i += 1
                continue
            break
        if _is_header_block(lines, i):
            i = _block_start(lines, i)
            break
        if _UNDERSCORES.match(line):
            nxt = _next_nonblank(lines, i + 1)
            if nxt is not None and _is_header_block(lines, nxt):
                break
        i += 1
    kinds[i:] = [_QUOTED] * (len(lines) - i)  # everything from a cut is set aside

    in_signature = False
    for i, line in enumerate(lines):
        if kinds[i] == _QUOTED:
            in_signature = False
        elif kinds[i] == _TEXT:
            if _SIG_DASHES.match(line) or _footer(lines, kinds, i) or _device(lines, kinds, i):
                in_signature = True
            if in_signature or _device_line(lines, kinds, i):
                kinds[i] = _SIG
    return kinds


def _rest(lines: list[str], kinds: list[str], i: int) -> list[str]:
    """The text lines after line i, up to the next quoted line."""
    out = []
    for j in range(i + 1, len(lines)):
        if kinds[j] == _QUOTED:
            break
        if kinds[j] == _TEXT:
            out.append(lines[j])
    return out


def _device(lines: list[str], kinds: list[str], i: int) -> bool:
    """ "Sent from my iPhone": short, and the last line of the person's words."""
    line = _LINK.sub("", lines[i]).strip()
    return bool(_SIG_MOBILE.match(line)) and len(line) <= 60 and not _rest(lines, kinds, i)


def _device_line(lines: list[str], kinds: list[str], i: int) -> bool:
    """ "Sent from my iPhone" on a line of its own between paragraphs: that line alone."""
    line = _LINK.sub("", lines[i]).strip()
    alone = all(kinds[j] != _TEXT for j in (i - 1, i + 1) if 0 <= j < len(lines))
    return bool(_SIG_MOBILE.match(line)) and len(line) <= 60 and alone and i > 0


def _footer(lines: list[str], kinds: list[str], i: int) -> bool:
    """A mailing list's footer: "__" and a few lines at the very end."""
    return bool(_SIG_FOOTER.match(lines[i])) and 0 < len(_rest(lines, kinds, i)) <= 5


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
    lines = _split_shared_lines(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    kinds = _classify(lines)
    return Cleaned(
        text=_join(lines, kinds, _TEXT).lstrip(),
        quoted=_join(lines, kinds, _QUOTED).lstrip(),
        signature=_join(lines, kinds, _SIG).lstrip(),
    )


def html_to_text(html: str) -> str:
    """Readable text from an HTML mail. A <blockquote> comes out as "> " lines when it quotes
    a message: when a reply header ("On ... wrote:") is just above it or is its first line.
    Otherwise it is the person's own indented text (some programs put a whole message in one)
    and comes out as plain lines."""
    return _mark_quotes(marked_text(html))


def _mark_quotes(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("\2"):
            out.append(lines[i])
            i += 1
            continue
        end = next((j for j in range(i, len(lines)) if not lines[j].startswith("\2")), len(lines))
        inner = [re.sub("^\x02 ?", "", ln) for ln in lines[i:end]]
        plain = [ln.replace("\2 ", "").replace("\2", "").strip() for ln in lines[i:end]]
        n = len(out)
        while n and not out[n - 1].strip():
            n -= 1  # just after the last line above that is not blank
        headed = any(_header_end(out, k) == n for k in range(max(0, n - 3), n))
        first = _next_nonblank(plain, 0)
        if headed or (first is not None and _header_end(plain, first) is not None):
            out += [("> " + ln.replace("\2", ">")).rstrip() if ln else ">" for ln in inner]
        else:
            out += plain
        i = end
    return "\n".join(out)


def clean(text: str | None, html: str | None) -> Cleaned:
    """Clean a reply, preferring its plain-text part and falling back to its HTML."""
    if text and text.strip():
        return clean_text(text)
    return clean_text(html_to_text(html) if html else "")
