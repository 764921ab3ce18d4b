"""How long a post is on X, Mastodon and Bluesky, and the links, mentions and hashtags in it.

- X: the twitter-text v3 weighted length (config v3: code points U+0000-U+10FF,
  U+2000-U+200D, U+2010-U+201F and U+2032-U+2037 weigh 1, everything else 2; each emoji
  sequence weighs 2; each URL, bare domains like charity.org.uk included, weighs 23).
- Mastodon: grapheme clusters; a URL with a scheme counts a fixed length, @user@domain
  counts as @user.
- Bluesky: grapheme clusters with URLs in full; facets index the text in UTF-8 bytes.

Lengths and `find_spans` work on the NFC form of the text (as X does); `bluesky_facets`
indexes the text exactly as given, because that is the text that gets posted.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import regex


@dataclass(frozen=True)
class Span:
    """A piece of text found in a post; offsets are characters, end exclusive."""

    kind: str  # "url" | "mention" | "hashtag"
    start: int
    end: int
    value: str  # the URL as written, the handle without "@", the tag without "#"


X_URL_WEIGHT = 23
_X_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

# URLs, following twitter-text's extractUrlsWithIndices (v3.1).
_LATIN = (
    r"\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_NOT_DOMAIN = (
    r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"  # punctuation
    r"\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # spaces
    r"\ufffe\ufeff\uffff\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"  # invalid, directional
)
_DC = "[^" + _NOT_DOMAIN + "]"
_SUBDOMAIN = _DC + r"(?:[_-]*+" + _DC + r")*+\."  # a label may hold "_" ...
_DOMAIN_NAME = _DC + r"(?:-*+" + _DC + r")*+\."  # ... except the one before the TLD
_PC = r"[a-z\u0400-\u04ff0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&" + _LATIN + "]"
_PARENS = r"\((?:" + _PC + "+|" + _PC + r"*\(" + _PC + r"+\)" + _PC + r"*)\)"
_PATH_END = r"(?:[+\-a-z\u0400-\u04ff0-9=_#/" + _LATIN + "]|" + _PARENS + ")"
_PATH = "(?:" + _PC + "*(?:" + _PARENS + _PC + "*)*" + _PATH_END + "|@" + _PC + "+/)"
_QUERY = r"\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-z0-9\-_&=#/]"


def _trie(words: list[str]) -> str:
    """A pattern matching any of `words`, factored by prefix so that it is quick to try."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [regex.escape(char) + emit(child) for char, child in node.items() if char]
        if not alts:
            return ""
        return "(?:" + "|".join(alts) + (")?" if "" in node else ")")

    return emit(tree)


# twitter-text reads the character before a URL as part of the match, so a URL cannot start
# right where the one before it ended.
_BEFORE_URL = r"(?-i:[^A-Za-z0-9@＠$#＃\ufffe\ufeff\uffff])"
_LABEL_CHAR = regex.compile(_DC + "|[_-]")
_TCO = regex.compile(r"https?://t\.co/(?P<slug>[a-z0-9]+)(?:" + _QUERY + ")?", regex.I)
_MAX_URL, _MAX_LABEL, _MAX_TCO_SLUG = 4096, 63, 40


@functools.cache
def _url_patterns() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    tld = r"(?:" + _trie(_TLD_TEXT.split()) + r"(?=[^0-9a-z@+\-]|\Z)|xn--[\-0-9a-z]+)"
    # Bounded (a label is at most 63 characters, 30 subdomains) so that long runs of text
    # without spaces, such as Japanese, cost linear time. `_too_long_before` finds the
    # longer labels that twitter-text would have matched and refused.
    domain = "(?=(?:" + _DC + r"|[_-]){1,63}+\.)(?:" + _SUBDOMAIN + "){0,30}" + _DOMAIN_NAME + tld
    url = (
        r"(?:(?P<before>" + _BEFORE_URL + r")|^)(?P<url>(?P<scheme>https?://)?"
        r"(?P<domain>" + domain + r")(?::[0-9]+)?(?P<path>/" + _PATH + "*)?(?:" + _QUERY + ")?)"
    )
    ascii_domain = r"(?:[\-a-z0-9" + _LATIN + r"]+\.)+" + tld
    return regex.compile(url, regex.I), regex.compile(ascii_domain, regex.I)


def _host_ok(domain: str) -> bool:
    """twitter-text's check of a host: each label at most 63 characters once IDN labels are
    punycode-encoded (xn--...), and a host that starts "xn--" must hold an ASCII domain."""
    if domain.startswith("xn--") and not _url_patterns()[1].search(domain):
        return False
    for label in domain.split("."):
        parts = regex.split("[\u3002\uff0e\uff61]", label)  # dots that IDNA also splits at
        encoded = ".".join(
            p if p.isascii() else "xn--" + p.encode("punycode").decode() for p in parts
        )
        if not 1 <= len(encoded) <= _MAX_LABEL:
            return False
    return True


def _too_long_before(text: str, start: int, done: int, name_label: bool) -> bool:
    """Whether the host found at `start` is the tail of a longer first label (over 63
    characters) that twitter-text would have matched from an earlier start, then refused.
    `done` is where the match before ended; `name_label`: the host's first label is the one
    before the TLD, where "_" is not allowed."""
    at = start - 1
    while at >= done and _LABEL_CHAR.match(text, at):
        if name_label and text[at] == "_":
            return False
        if text[at] not in "_-" and _may_start(text, at, done):
            return True
        at -= 1
    return False


def _may_start(text: str, at: int, done: int) -> bool:
    """Whether twitter-text's URL pattern could start a host at `at`: after a character it
    allows there (and that the last match did not take), or at the very start when it cannot
    take the first character as that character."""
    if at:
        return at > done and bool(regex.match(_BEFORE_URL, text[at - 1]))
    return not regex.match(_BEFORE_URL, text[0]) or text[1:2] in ("_", "-")


def _urls(text: str) -> list[Span]:
    if "." not in text:
        return []
    url_re, ascii_re = _url_patterns()
    found: list[Span] = []
    done = 0  # where the last match ended
    for m in url_re.finditer(text):
        start, end, done_before, done = m.start("url"), m.end(), done, m.end()
        domain, scheme = m["domain"], m["scheme"]
        if len(scheme or "https://") + end - start > _MAX_URL or not _host_ok(domain):
            continue
        if scheme:
            tco = _TCO.match(text, start, end)
            if tco and len(tco["slug"]) > _MAX_TCO_SLUG:
                continue
            end = tco.end() if tco else end  # a t.co link stops at its slug (and query)
            found.append(Span("url", start, end, text[start:end]))
            continue
        # A bare domain: only after a sensible character, and only its ASCII part(s).
        if m["before"] and m["before"] in "-_./":
            continue
        if _too_long_before(text, start, done_before, domain.count(".") == 1):
            continue
        bare = [
            Span("url", start + a.start(), start + a.end(), a.group())
            for a in ascii_re.finditer(domain)
        ]
        if bare and m["path"]:  # the path belongs to the last domain
            last = bare.pop()
            bare.append(Span("url", last.start, end, text[last.start : end]))
        found += bare
    return found


_MENTION = regex.compile(
    r"(?<![\w=/!#$%&*@＠])@(?>(?P<handle>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*(?:@\w+(?:[.-]+\w+)*)?))"
    r"(?![@＠" + _LATIN + r"]|://)",
    regex.I,
)
BSKY_HANDLE = regex.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*", regex.I)
SCHEME = regex.compile(r"https?://", regex.I)

# Hashtags, following twitter-text's extractHashtagsWithIndices (v3.1): after the # come
# letters, marks, digits and the joiners and marks that some scripts use inside words (the
# underscore, ZWNJ and ZWJ, the Catalan middle dot, the Hebrew maqaf, geresh and gershayim,
# the Japanese wave dash, fullwidth tilde, iteration and sound marks, the Tibetan tsheg, the
# Cyrillic paiyerok), with at least one letter or mark. The character before the # must not
# be one of those or "&" (twitter-text reads it as part of the match, so two tags cannot share
# it), and a # or "://" right after the tag means it is no tag at all.
_TAG_JOINERS = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003"
    "\u0f0b\u0f0c\xb7"
)
_TAG_CHAR = r"[\p{L}\p{M}\p{Nd}" + _TAG_JOINERS + "]"
_HASHTAG = regex.compile(
    r"(?:^|\ufe0e|\ufe0f|(?!" + _TAG_CHAR + r"|&).)[#＃](?![\ufe0f\u20e3])"
    r"(?P<tag>" + _TAG_CHAR + r"*?[\p{L}\p{M}]" + _TAG_CHAR + "*+)",
    regex.S,
)


def _hashtags(text: str) -> list[Span]:
    found = []
    for m in _HASHTAG.finditer(text):
        if text.startswith(("#", "＃", "://"), m.end()):
            continue
        found.append(Span("hashtag", m.start("tag") - 1, m.end(), m["tag"]))
    return found


def spans(text: str) -> list[Span]:
    mentions = [Span("mention", m.start(), m.end(), m["handle"]) for m in _MENTION.finditer(text)]
    candidates = sorted(_urls(text) + mentions + _hashtags(text), key=lambda s: s.start)
    kept: list[Span] = []
    for span in candidates:  # the earlier one wins, as in twitter-text
        if not kept or span.start >= kept[-1].end:
            kept.append(span)
    return kept


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def find_spans(text: str) -> list[Span]:
    """URLs (with a scheme, or bare domains with a known TLD), @mentions and #hashtags.

    Mentions are `@handle`, `@handle.bsky.social` (Bluesky) or `@user@instance` (Mastodon).
    URLs and hashtags are the ones twitter-text finds (see `_urls` and `_HASHTAG`). The spans
    do not overlap, come in text order and index the NFC form of `text`.
    """
    return spans(_nfc(text))


# An emoji sequence, as twemoji-parser finds them: a flag, a keycap, a tag sequence (🏴 +
# tags), or pictographs with a skin tone joined by ZWJ. A pictograph that is text by default
# (©, ®, ❤, 🏳) is an emoji only with U+FE0F or a skin tone after it.
_PICTO = r"\p{Emoji_Presentation}\p{Emoji_Modifier}?|\p{Extended_Pictographic}"
_EMOJI = regex.compile(
    r"\p{Regional_Indicator}{2}|[#*0-9]\ufe0f?\u20e3|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
    r"|(?:" + _PICTO + r"[\ufe0f\p{Emoji_Modifier}])"  # the first needs U+FE0F if text-default
    r"(?:\u200d(?:" + _PICTO + r"[\ufe0f\p{Emoji_Modifier}]?))*"  # the ones after ZWJ need not
)


def _x_weight(char: str) -> int:
    code = ord(char)
    return 1 if any(low <= code <= high for low, high in _X_LIGHT) else 2


X_MAX_LENGTH = 280
# Characters that make X refuse a post wherever they are (twitter-text's invalid characters).
X_INVALID_CHARACTERS = {
    "\ufffe": "U+FFFE (a non-character)",
    "\ufeff": "U+FEFF (a zero width no-break space, or byte order mark)",
    "\uffff": "U+FFFF (a non-character)",
}


def x_invalid_characters(text: str) -> list[str]:
    """The characters in `text` that X refuses, each once, in order, named for people."""
    return [X_INVALID_CHARACTERS[c] for c in dict.fromkeys(text) if c in X_INVALID_CHARACTERS]


def x_valid(text: str) -> bool:
    """Whether X takes `text` (twitter-text's parseTweet `valid`, config v3): a weighted
    length from 1 to 280 and none of the characters X refuses."""
    return 0 < x_length(text) <= X_MAX_LENGTH and not x_invalid_characters(_nfc(text))


def x_length(text: str) -> int:
    """The twitter-text v3 weighted length that X compares with 280."""
    text = _nfc(text)
    urls = {span.start: span.end for span in _urls(text)}
    emoji = {m.start(): m.end() for m in _EMOJI.finditer(text)}
    total = i = 0
    while i < len(text):
        if i in urls:
            total, i = total + X_URL_WEIGHT, urls[i]
        elif i in emoji:
            total, i = total + 2, emoji[i]
        else:
            total, i = total + _x_weight(text[i]), i + 1
    return total


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Mastodon's count: grapheme clusters, each URL with a scheme as `url_length`
    characters and each @user@domain as @user. Add the content warning's own count."""
    text = _nfc(text)
    pieces, done = [], 0
    for span in spans(text):
        if span.kind == "url" and SCHEME.match(span.value):
            stand_in = "x" * url_length
        elif span.kind == "mention":
            stand_in = "@" + span.value.split("@")[0]
        else:
            continue
        pieces += [text[done : span.start], stand_in]
        done = span.end
    pieces.append(text[done:])
    return graphemes("".join(pieces))


def bluesky_length(text: str) -> int:
    """Bluesky's count (limit 300): grapheme clusters, URLs in full."""
    return graphemes(_nfc(text))


# The top-level domains twitter-text v3.1 recognises (its validGTLD and validCCTLD lists).
_TLD_TEXT = """
aaa aarp abarth abb abbott abbvie abc able abogado abudhabi ac academy accenture accountant
accountants aco active actor ad adac ads adult ae aeg aero aetna af afamilycompany afl africa
ag agakhan agency ai aig aigo airbus airforce airtel akdn al alfaromeo alibaba alipay
allfinanz allstate ally alsace alstom am americanexpress americanfamily amex amfam amica
amsterdam an analytics android anquan anz ao aol apartments app apple aq aquarelle ar arab
aramco archi army arpa art arte as asda asia associates at athleta attorney au auction audi
audible audio auspost author auto autos avianca aw aws ax axa az azure ba baby baidu banamex
bananarepublic band bank bar barcelona barclaycard barclays barefoot bargains baseball
basketball bauhaus bayern bb bbc bbt bbva bcg bcn bd be beats beauty beer bentley berlin best
bestbuy bet bf bg bh bharti bi bible bid bike bing bingo bio biz bj bl black blackfriday
blanco blockbuster blog bloomberg blue bm bms bmw bn bnl bnpparibas bo boats boehringer bofa
bom bond boo book booking boots bosch bostik boston bot boutique box bq br bradesco
bridgestone broadway broker brother brussels bs bt budapest bugatti build builders business
buy buzz bv bw by bz bzh ca cab cafe cal call calvinklein cam camera camp cancerresearch canon
capetown capital capitalone car caravan cards care career careers cars cartier casa case
caseih cash casino cat catering catholic cba cbn cbre cbs cc cd ceb center ceo cern cf cfa cfd
cg ch chanel channel charity chase chat cheap chintai chloe christmas chrome chrysler church
ci cipriani circle cisco citadel citi citic city cityeats ck cl claims cleaning click clinic
clinique clothing cloud club clubmed cm cn co coach codes coffee college cologne com comcast
commbank community company compare computer comsec condos construction consulting contact
contractors cooking cookingchannel cool coop corsica country coupon coupons courses cpa cr
credit creditcard creditunion cricket crown crs cruise cruises csc cu cuisinella cv cw cx cy
cymru cyou cz dabur dad dance data date dating datsun day dclk dds de deal dealer deals degree
delivery dell deloitte delta democrat dental dentist desi design dev dhl diamonds diet digital
direct directory discount discover dish diy dj dk dm dnp do docs doctor dodge dog doha domains
doosan dot download drive dtv dubai duck dunlop duns dupont durban dvag dvr dz earth eat ec
eco edeka edu education ee eg eh email emerck energy engineer engineering enterprises epost
epson equipment er ericsson erni es esq estate esurance et etisalat eu eurovision eus events
everbank exchange expert exposed express extraspace fage fail fairwinds faith family fan fans
farm farmers fashion fast fedex feedback ferrari ferrero fi fiat fidelity fido film final
finance financial fire firestone firmdale fish fishing fit fitness fj fk flickr flights flir
florist flowers flsmidth fly fm fo foo food foodnetwork football ford forex forsale forum
foundation fox fr free fresenius frl frogans frontdoor frontier ftr fujitsu fujixerox fun fund
furniture futbol fyi ga gal gallery gallo gallup game games gap garden gay gb gbiz gd gdn ge
gea gent genting george gf gg ggee gh gi gift gifts gives giving gl glade glass gle global
globo gm gmail gmbh gmo gmx gn godaddy gold goldpoint golf goo goodhands goodyear goog google
gop got gov gp gq gr grainger graphics gratis green gripe grocery group gs gt gu guardian
gucci guge guide guitars guru gw gy hair hamburg hangout haus hbo hdfc hdfcbank health
healthcare help helsinki here hermes hgtv hiphop hisamitsu hitachi hiv hk hkt hm hn hockey
holdings holiday homedepot homegoods homes homesense honda honeywell horse hospital host
hosting hot hoteles hotels hotmail house how hr hsbc ht htc hu hughes hyatt hyundai ibm icbc
ice icu id ie ieee ifm iinet ikano il im imamat imdb immo immobilien in inc industries
infiniti info ing ink institute insurance insure int intel international intuit investments io
ipiranga iq ir irish is iselect ismaili ist istanbul it itau itv iveco iwc jaguar java jcb jcp
je jeep jetzt jewelry jio jlc jll jm jmp jnj jo jobs joburg jot joy jp jpmorgan jprs juegos
juniper kaufen kddi ke kerryhotels kerrylogistics kerryproperties kfh kg kh ki kia kim kinder
kindle kitchen kiwi km kn koeln komatsu kosher kp kpmg kpn kr krd kred kuokgroup kw ky kyoto
kz la lacaixa ladbrokes lamborghini lamer lancaster lancia lancome land landrover lanxess
lasalle lat latino latrobe law lawyer lb lc lds lease leclerc lefrak legal lego lexus lgbt li
liaison lidl life lifeinsurance lifestyle lighting like lilly limited limo lincoln linde link
lipsy live living lixil lk llc llp loan loans locker locus loft lol london lotte lotto love
lpl lplfinancial lr ls lt ltd ltda lu lundbeck lupin luxe luxury lv ly ma macys madrid maif
maison makeup man management mango map market marketing markets marriott marshalls maserati
mattel mba mc mcd mcdonalds mckinsey md me med media meet melbourne meme memorial men menu meo
merckmsd metlife mf mg mh miami microsoft mil mini mint mit mitsubishi mk ml mlb mls mm mma mn
mo mobi mobile mobily moda moe moi mom monash money monster montblanc mopar mormon mortgage
moscow moto motorcycles mov movie movistar mp mq mr ms msd mt mtn mtpc mtr mu museum mutual
mutuelle mv mw mx my mz na nab nadex nagoya name nationwide natura navy nba nc ne nec net
netbank netflix network neustar new newholland news next nextdirect nexus nf nfl ng ngo nhk ni
nico nike nikon ninja nissan nissay nl no nokia northwesternmutual norton now nowruz nowtv np
nr nra nrw ntt nu nyc nz obi observer off office okinawa olayan olayangroup oldnavy ollo om
omega one ong onion onl online onyourside ooo open oracle orange org organic orientexpress
origins osaka otsuka ott ovh pa page pamperedchef panasonic panerai paris pars partners parts
party passagens pay pccw pe pet pf pfizer pg ph pharmacy phd philips phone photo photography
photos physio piaget pics pictet pictures pid pin ping pink pioneer pizza pk pl place play
playstation plumbing plus pm pn pnc pohl poker politie porn post pr pramerica praxi press
prime pro prod productions prof progressive promo properties property protection pru
prudential ps pt pub pw pwc py qa qpon quebec quest qvc racing radio raid re read realestate
realtor realty recipes red redstone redumbrella rehab reise reisen reit reliance ren rent
rentals repair report republican rest restaurant review reviews rexroth rich richardli ricoh
rightathome ril rio rip rmit ro rocher rocks rodeo rogers room rs rsvp ru rugby ruhr run rw
rwe ryukyu sa saarland safe safety sakura sale salon samsclub samsung sandvik sandvikcoromant
sanofi sap sapo sarl sas save saxo sb sbi sbs sc sca scb schaeffler schmidt scholarships
school schule schwarz science scjohnson scor scot sd se search seat secure security seek
select sener services ses seven sew sex sexy sfr sg sh shangrila sharp shaw shell shia shiksha
shoes shop shopping shouji show showtime shriram si silk sina singles site sj sk ski skin sky
skype sl sling sm smart smile sn sncf so soccer social softbank software sohu solar solutions
song sony soy space spiegel sport spot spreadbetting sr srl srt ss st stada staples star
starhub statebank statefarm statoil stc stcgroup stockholm storage store stream studio study
style su sucks supplies supply support surf surgery suzuki sv swatch swiftcover swiss sx sy
sydney symantec systems sz tab taipei talk taobao target tatamotors tatar tattoo tax taxi tc
tci td tdk team tech technology tel telecity telefonica temasek tennis teva tf tg th thd
theater theatre tiaa tickets tienda tiffany tips tires tirol tj tjmaxx tjx tk tkmaxx tl tm
tmall tn to today tokyo tools top toray toshiba total tours town toyota toys tp tr trade
trading training travel travelchannel travelers travelersinsurance trust trv tt tube tui tunes
tushu tv tvs tw tz ua ubank ubs uconnect ug uk um unicom university uno uol ups us uy uz va
vacations vana vanguard vc ve vegas ventures verisign versicherung vet vg vi viajes video vig
viking villas vin vip virgin visa vision vista vistaprint viva vivo vlaanderen vn vodka
volkswagen volvo vote voting voto voyage vu vuelos wales walmart walter wang wanggou warman
watch watches weather weatherchannel webcam weber website wed wedding weibo weir wf whoswho
wien wiki williamhill win windows wine winners wme wolterskluwer woodside work works world wow
ws wtc wtf xbox xerox xfinity xihuan xin xperia xxx xyz yachts yahoo yamaxun yandex ye
yodobashi yoga yokohama you youtube yt yun za zappos zara zero zip zippo zm zone zuerich zw
vermögensberater vermögensberatung ελ ευ бг бел дети ею католик ком мкд мон москва онлайн орг
рус рф сайт срб укр қаз հայ קום ابوظبي اتصالات ارامكو الاردن البحرين الجزائر السعودية العليان
المغرب امارات ایران بارت بازار بيتك بھارت تونس سودان سورية شبكة عراق عرب عمان فلسطين قطر
كاثوليك كوم مصر مليسيا موبايلي موريتانيا موقع همراه پاکستان ڀارت कॉम नेट भारत भारतम् भारोत संगठन
বাংলা ভারত ভাৰত ਭਾਰਤ ભારત ଭାରତ இந்தியா இலங்கை சிங்கப்பூர் భారత్ ಭಾರತ ഭാരതം ලංකා คอม ไทย ລາວ გე みんな
クラウド グーグル コム ストア セール ファッション ポイント 世界 中信 中国 中國 中文网 企业
佛山 信息 健康 八卦 公司 公益 台湾 台灣 商城 商店 商标 嘉里 嘉里大酒店 在线 大众汽车 大拿
天主教 娱乐 家電 工行 广东 微博 慈善 我爱你 手机 手表 招聘 政务 政府 新加坡 新闻 时尚 書籍
机构 淡马锡 游戏 澳門 点看 珠宝 移动 组织机构 网址 网店 网站 网络 联通 诺基亚 谷歌 购物 通販
集团 電訊盈科 飞利浦 食品 餐厅 香格里拉 香港 닷넷 닷컴 삼성 한국
"""
