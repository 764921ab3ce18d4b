"""The public pages in Welsh, through Flask's test client: which language a page is in (the
switch, its cookie, the person's own language, the browser's), the switch itself, every page's
Welsh words, and engage's own emails in Welsh through the outbox."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from engage import own_emails
from engage.contacts import core
from engage.providers import provider_for
from engage.stories import telling
from engage.tokens import Signer
from engage.web import LANG_COOKIE, create_app
from engage.workflow.own_emails import send_own_emails

KEY = "welsh-test-key"
WELSH = {"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"}
SWITCH_TO_WELSH = '<a href="/subscribe?lang=cy" lang="cy" hreflang="cy">Cymraeg</a>'


@pytest.fixture
def app(project, monkeypatch, clock, db_url):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def html(answer) -> str:
    return answer.get_data(as_text=True)


def h1(answer) -> str:
    return re.search(r"<h1>(.*?)</h1>", html(answer), re.S).group(1)


def add(project, address: str, *options: str) -> int:
    result = project.run("contacts", "add", address, "--consent", "Yes please", *options)
    assert result.exit_code == 0, result.output
    with core_store(project) as connection:
        return core.find(connection, address).id


class core_store:  # noqa: N801 - used as `with core_store(project) as connection`
    def __init__(self, project) -> None:
        from engage.store import open_store

        self.store = open_store(project.workspace)

    def __enter__(self):
        self.connection = self.store.engine.connect()
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.close()
        self.store.engine.dispose()


# --- which language ---------------------------------------------------------------------------


def test_the_browsers_language_chooses_and_the_page_says_so(client) -> None:
    english = client.get("/subscribe")
    assert '<html lang="en-GB" dir="ltr">' in html(english)
    assert h1(english) == "Get our newsletter"
    assert english.headers["Content-Language"] == "en-GB"
    welsh = client.get("/subscribe", headers=WELSH)
    assert '<html lang="cy" dir="ltr">' in html(welsh)
    assert h1(welsh) == "Cael ein cylchlythyr"
    assert welsh.headers["Content-Language"] == "cy"
    assert welsh.headers["Vary"] == "Accept-Language, Cookie"  # a cache keeps one per language
    assert welsh.headers.get("Set-Cookie") is None  # only the switch sets one
    # A language with no catalogue: the organisation's.
    assert h1(client.get("/subscribe", headers={"Accept-Language": "fr, de;q=0.5"})) == (
        "Get our newsletter"
    )
    # The browser's first choice it can have, by quality.
    mixed = {"Accept-Language": "fr, cy;q=0.8, en-GB;q=0.7"}
    assert h1(client.get("/subscribe", headers=mixed)) == "Cael ein cylchlythyr"


def test_the_switch_names_each_language_in_its_own_words(client) -> None:
    page = html(client.get("/subscribe"))
    assert (
        '<nav aria-label="Language">\n      <ul class="languages">\n'
        '        <li><span lang="en-GB" aria-current="true">English</span></li>\n'
        f"        <li>{SWITCH_TO_WELSH}</li>\n      </ul>\n    </nav>"
    ) in page
    welsh = html(client.get("/subscribe", headers=WELSH))
    assert '<nav aria-label="Iaith">' in welsh
    assert (
        '<li><a href="/subscribe?lang=en-GB" lang="en-GB" hreflang="en-GB">English</a></li>'
        in welsh
    )
    assert '<li><span lang="cy" aria-current="true">Cymraeg</span></li>' in welsh
    # Other query arguments are kept.
    assert 'href="/archive/?page=2&amp;lang=cy"' in html(client.get("/archive/?page=2"))


def test_the_switch_is_remembered_in_a_cookie(client) -> None:
    chosen = client.get("/subscribe?lang=cy", headers={"Accept-Language": "en-GB"})
    assert h1(chosen) == "Cael ein cylchlythyr"
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith(f"{LANG_COOKIE}=cy; ")
    assert "Max-Age=31536000" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    # The next page, without ?lang=, in a browser that asks for English: Welsh, as chosen.
    later = client.get("/unsubscribe", headers={"Accept-Language": "en-GB"})
    assert h1(later) == "Dad-danysgrifio"
    assert later.headers.get("Set-Cookie") is None  # already remembered
    back = client.get("/unsubscribe?lang=en-GB")
    assert h1(back) == "Unsubscribe"
    assert back.headers["Set-Cookie"].startswith(f"{LANG_COOKIE}=en-GB; ")


def test_a_language_nobody_can_have_is_ignored(client) -> None:
    for asked in ("fr", "zz-top", "<script>", ""):
        answer = client.get(f"/subscribe?lang={asked}")
        assert h1(answer) == "Get our newsletter"
        assert answer.headers.get("Set-Cookie") is None
    client.set_cookie(LANG_COOKIE, "klingon")
    assert h1(client.get("/subscribe", headers=WELSH)) == "Cael ein cylchlythyr"


def test_a_persons_page_is_in_their_language_unless_they_switched(app, client) -> None:
    contact_id = add(app.project, "sam@example.org", "--lang", "cy")
    token = Signer(KEY).sign("p", contact_id)
    english_browser = {"Accept-Language": "en-GB"}
    page = client.get(f"/preferences/{token}", headers=english_browser)
    assert h1(page) == "Eich dewisiadau e-bost"
    assert '<html lang="cy" dir="ltr">' in html(page)
    assert h1(client.get(f"/unsubscribe/{Signer(KEY).sign('u', contact_id, 0)}")) == (
        "Dad-danysgrifio"
    )
    # They chose English with the switch, on this browser: English from now on.
    assert h1(client.get(f"/preferences/{token}?lang=en-GB")) == "Your email choices"
    assert h1(client.get(f"/preferences/{token}", headers=WELSH)) == "Your email choices"


def test_someone_who_asked_for_both_gets_their_first(app, client) -> None:
    contact_id = add(app.project, "kim@example.org", "--lang", "cy en-GB")
    page = client.get(f"/preferences/{Signer(KEY).sign('p', contact_id)}")
    assert h1(page) == "Eich dewisiadau e-bost"


def test_the_console_stays_english(client) -> None:
    page = client.get("/console/sign-in", headers=WELSH)
    assert page.headers["Content-Language"] == "en-GB"
    assert "Cymraeg" not in html(page)


# --- every page in Welsh ----------------------------------------------------------------------


def test_sign_up_in_welsh_from_the_form_to_the_confirmed_page(app, client) -> None:
    form = html(client.get("/subscribe", headers=WELSH))
    for words in (
        '<label for="email">Eich cyfeiriad e-bost</label>',
        '<label for="name">Eich enw <span class="hint">Does dim rhaid i chi ei roi. Rydyn ni\'n '
        "ei ddefnyddio i ddweud helo.</span></label>",
        "<legend>Sut hoffech chi gael eich negeseuon e-bost?</legend>",
        '<label for="format-easy-read">Hawdd ei Ddeall: brawddegau byr, pob un gyda llun</label>',
        "<legend>Ym mha iaith hoffech chi gael eich negeseuon e-bost?</legend>",
        '<input type="radio" id="lang-2" name="lang" value="cy" checked>',  # the page's
        '<label for="lang-2"><span lang="cy">Cymraeg</span></label>',
        '<label for="lang-1"><span lang="en-GB">English</span></label>',
        # The workspace's own words (engage.toml) are English, and say so.
        '<label for="topic-1"><span lang="en-GB">Walking groups and days out</span></label>',
        '<button type="submit">Cofrestru</button>',
        "<p>Get Yourself Active, 12 Example Street, Leeds LS1 1AA. Rhif elusen gofrestredig "
        "1234567.</p>",
        '<a class="skip" href="#content">Neidio i\'r prif gynnwys</a>',
    ):
        assert words in form, words

    errors = client.post("/subscribe", data={"email": "nope", "lang": "cy"}, headers=WELSH)
    assert errors.status_code == 400
    assert "<title>Gwall: cael ein cylchlythyr – Get Yourself Active</title>" in html(errors)
    assert '<a href="#email">Rhowch eich cyfeiriad e-bost, fel enw@example.org</a>' in html(errors)
    assert (
        '<a href="#consent">Ticiwch y blwch i ddweud eich bod chi eisiau ein negeseuon e-bost'
        in (html(errors))
    )

    data = {"email": "sam@example.org", "name": "Sam Jones", "format": "easy-read"}
    done = client.post("/subscribe", data={**data, "consent": "yes", "lang": "cy"}, headers=WELSH)
    assert h1(done) == "Edrychwch ar eich e-bost"
    assert (
        "<p>Dim e-bost? Edrychwch yn eich ffolder sbam. Mae&#39;r ddolen yn gweithio am 7 "
        "diwrnod.</p>"
    ) in html(done)
    engage = app.extensions["engage"]
    send_own_emails(engage["store"], engage["workspace"], engage["signer"])
    with engage["store"].connect() as connection:
        sam = core.find(connection, "sam@example.org")
    assert (sam.status, sam.format, sam.lang) == ("pending", "easy-read", "cy")
    # The confirmation email went through the queue in Welsh (outgoing.py keeps their choice).
    [path] = sorted((app.project.root / "outbox" / "system" / "confirm").glob("*.eml"))
    sent = read(path)
    assert (sent["Subject"], sent["Content-Language"]) == (
        "Cadarnhewch eich cyfeiriad e-bost",
        "cy",
    )

    # The confirmation link opens in their language, whatever the browser says.
    opened = client.get(f"/confirm/{confirm_token(app.project)}")
    assert h1(opened) == "Cadarnhewch eich bod chi eisiau ein cylchlythyr"
    assert (
        "<p>Gofynnodd rhywun i'n cylchlythyr fynd i sam@example.org. Os mai chi oedd hynny, "
        "pwyswch y botwm.</p>"
    ) in html(opened)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html(opened)).group(1)
    confirmed = client.post(f"/confirm/{confirm_token(app.project)}", data={"csrf": csrf})
    assert h1(confirmed) == "Rydych chi wedi cofrestru"
    assert "<p>Diolch. Byddwch chi&#39;n cael ein cylchlythyr nesaf.</p>" in html(confirmed)


def confirm_token(project) -> str:
    [path] = sorted((project.root / "outbox" / "system" / "confirm").glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return re.search(r"/confirm/(\S+)", message.get_body(("plain",)).get_content()).group(1)


def test_preferences_and_unsubscribe_in_welsh(app, client) -> None:
    contact_id = add(app.project, "sam@example.org", "--lang", "cy")
    token = Signer(KEY).sign("p", contact_id)
    page = html(client.get(f"/preferences/{token}"))
    assert "<p>Dyma'r dewisiadau ar gyfer sam@example.org.</p>" in page
    assert '<input type="radio" id="lang-2" name="lang" value="cy" checked>' in page
    assert "Stopio pob e-bost gennym ni</a>" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    saved = client.post(
        f"/preferences/{token}", data={"csrf": csrf, "format": "easy-read", "lang": "en-GB"}
    )
    assert h1(saved) == "Your choices are saved"  # the page after is in the language chosen
    with app.extensions["engage"]["store"].connect() as connection:
        sam = core.find(connection, "sam@example.org")
    assert (sam.format, sam.lang) == ("easy-read", "en-GB")

    kim = add(app.project, "kim@example.org", "--lang", "cy")
    link = f"/unsubscribe/{Signer(KEY).sign('u', kim, 0)}"
    asked = html(client.get(link))
    assert '<button type="submit">Dad-danysgrifiwch fi</button>' in asked
    assert "<p>Wedi newid eich meddwl? <a href=" in asked
    gone = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert h1(gone) == "Rydych chi wedi dad-danysgrifio"
    assert "<p>Fyddwn ni ddim yn anfon rhagor o gylchlythyrau atoch chi.</p>" in html(gone)


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/archive/", 200, "Cylchlythyrau blaenorol"),
        ("/unsubscribe", 200, "Dad-danysgrifio"),
        ("/nowhere", 404, "Heb ddod o hyd i&#39;r dudalen"),
        ("/confirm/broken", 400, "Dydy&#39;r ddolen hon ddim yn gweithio"),
        ("/story/broken", 400, "Dydy&#39;r ddolen hon ddim yn gweithio"),
    ],
)
def test_other_pages_in_welsh(client, path, status, title) -> None:
    answer = client.get(path, headers=WELSH)
    assert (answer.status_code, h1(answer)) == (status, title)
    assert '<html lang="cy" dir="ltr">' in html(answer)


def test_the_story_page_in_welsh(app, client) -> None:
    project = app.project
    add(project, "sam@example.org", "--lang", "cy")
    assert project.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    workspace = app.extensions["engage"]["workspace"]
    with app.extensions["engage"]["store"].connect() as connection:
        from engage.stories import core as stories

        story = stories.get(connection, 1)
    link = telling.link_for(workspace, Signer(KEY), story)
    page = client.get(link.removeprefix(workspace.config.web.base_url.rstrip("/")))
    assert h1(page) == "Eich stori"
    assert (
        "<p>Helo. Mae'r dudalen hon i chi yn unig. Mae eich stori gyda ni, ac rydyn ni&#39;n "
        "ei darllen hi.</p>"
    ) in html(page)
    assert '<h2 id="withdraw-heading">Cymryd eich stori yn ôl</h2>' in html(page)
    assert '<label for="place-newsletter">Yn ein cylchlythyr e-bost</label>' in html(page)
    assert (
        '<button type="submit" name="action" value="withdraw">Cymryd fy stori yn ôl</button>'
        in (html(page))
    )


# --- engage's own emails in Welsh -------------------------------------------------------------


def read(path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_a_confirmation_in_welsh_through_the_outbox(project) -> None:
    workspace = project.workspace
    message = own_emails.confirmation(workspace, "sam@example.org", "Sam Jones", "T0KEN", "cy")
    with provider_for(workspace) as provider:
        assert provider.send_system(message).sent
    [path] = sorted((project.root / "outbox" / "system" / "confirm").glob("*.eml"))
    sent = read(path)
    assert sent["Subject"] == "Cadarnhewch eich cyfeiriad e-bost"
    assert sent["Content-Language"] == "cy"
    assert sent.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        "Helo Sam,\n\n"
        "Cadarnhewch eich bod chi eisiau negeseuon e-bost gan Get Yourself Active.\n\n"
        "Agorwch y ddolen hon, yna pwyswch y botwm ar y dudalen:\n"
        "http://127.0.0.1:8025/confirm/T0KEN\n\n"
        "Mae'r ddolen yn gweithio am 7 diwrnod. Os na wnaethoch chi ofyn am ein negeseuon e-bost, "
        "does dim angen i chi wneud dim byd. Fyddwn ni ddim yn ysgrifennu atoch chi eto.\n\n"
        "Get Yourself Active, 12 Example Street, Leeds LS1 1AA."
    )
    body = sent.get_body(("html",)).get_content()
    assert '<html lang="cy" dir="ltr">' in body
    assert 'aria-label="Cadarnhewch eich cyfeiriad e-bost" lang="cy"' in body
    # In English (the organisation's), as before, and it says so too.
    english = own_emails.confirmation(workspace, "kim@example.org", "", "T0KEN")
    assert (english.subject, english.headers()["Content-Language"]) == (
        "Please confirm your email address",
        "en-GB",
    )
    assert english.text.startswith("Hello,\n\nPlease confirm that you want emails from")


def test_a_story_acknowledgement_in_welsh(project) -> None:
    context = {
        "first_name": "Sam",
        "link": "http://127.0.0.1:8025/story/T0KEN",
        "next_update_by": "Monday 14 December",
        "story": {"id": 1, "title": "", "status": "received"},
    }
    made = own_emails.render_story(project.workspace, "acknowledgement", context, lang="cy")
    assert (made.subject, made.lang) == ("Diolch am eich stori", "cy")
    assert made.text.startswith(
        "Helo Sam,\n\n"
        "Diolch am rannu eich stori gyda ni. Rydyn ni mor falch eich bod chi wedi cysylltu.\n\n"
        "Dyma beth sy'n digwydd nesaf:\n"
        "- Byddwn ni'n darllen eich stori yn ofalus.\n"
    )
    assert "Y tîm yn Get Yourself Active\n" in made.text
    assert '<html lang="cy" dir="ltr">' in made.html
    assert 'aria-label="Diolch am eich stori" lang="cy"' in made.html
    # Through engage's queue, as a web page sends it: Content-Language goes with it.
    message = own_emails.queued_story_email(
        "sam@example.org",
        {
            "subject": made.subject,
            "text": made.text,
            "html": made.html,
            "sender": "news@example.org",
            "message_id": "<1@example.org>",
            "kind": "story-acknowledgement",
            "reply_to": "",
            "lang": made.lang,
        },
    )
    with provider_for(project.workspace) as provider:
        assert provider.send_system(message).sent
    [path] = sorted((project.root / "outbox" / "system" / "story-acknowledgement").glob("*.eml"))
    assert read(path)["Content-Language"] == "cy"
    assert read(path)["Subject"] == "Diolch am eich stori"
    # The team's emails stay English.
    team = own_emails.render_story(
        project.workspace,
        "team-stopped",
        {
            "story": {"id": 1, "title": "", "status": "received"},
            "contributor": "sam@example.org",
            "how": "by email",
            "comment": "Diolch",
            "lang": "cy",
        },
    )
    assert (team.subject, team.lang) == ("Story 1: the contributor asked us to stop writing", "")
    assert '<html lang="en-GB"' in team.html


def test_a_welsh_contributor_hears_back_in_welsh(project, monkeypatch, clock) -> None:
    """The whole path: the call for stories goes in Welsh to Rhys (who reads Welsh), he
    replies, and the thank-you email (queued by the story chain) is in Welsh, with the day of
    the next news in Welsh too."""
    import datetime as dt

    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    clock.set(dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.UTC))
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    assert project.run("send", "share-your-story", "--yes").exit_code == 0
    [call] = (project.root / "outbox" / "share-your-story").glob("*rhys.morgan*.eml")
    sent = read(call)
    assert (sent["Subject"], sent["Content-Language"]) == ("Hoffem glywed eich stori chi", "cy")
    reply = email.message.EmailMessage()
    reply["From"], reply["To"] = sent["To"], sent["Reply-To"]
    reply["Subject"] = "Re: " + sent["Subject"]
    reply["Message-ID"], reply["In-Reply-To"] = "<rhys-1@example.org>", sent["Message-ID"]
    reply["Date"] = "Thu, 10 Dec 2026 11:00:00 +0000"
    reply.set_content(
        "Helo! Dechreuais i chwarae pêl-fasged cadair olwyn y llynedd. Mae gen i stori."
    )
    saved = project.root / "rhys.eml"
    saved.write_bytes(bytes(reply))
    result = project.run("replies", "import", str(saved))
    assert result.exit_code == 0, result.output
    [thanks] = (project.root / "outbox" / "system" / "story-acknowledgement").glob("*.eml")
    told = read(thanks)
    assert (told["Subject"], told["Content-Language"]) == ("Diolch am eich stori", "cy")
    text = told.get_body(("plain",)).get_content()
    assert text.startswith("Helo Rhys,")
    assert "Dydd Iau 24 Rhagfyr" in text  # 14 days on, in Welsh
    assert '<html lang="cy"' in told.get_body(("html",)).get_content()
