"""The tables, as SQLAlchemy Core. Queries everywhere use these objects; the migrations in
migrations/versions/ create them. Times are stored in UTC.

Later tables (deliveries, events, replies, stories) refer to contacts.id, so a person's whole
history hangs off one row, and erasing a person is one place to start.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine.default import DefaultExecutionContext

from ..addresses import mailbox

# Every text, string and JSON column is guarded (guard.py): what is written is made fit for the
# store (no NUL or other control characters, no broken characters, no longer than the column),
# the same on SQLite and PostgreSQL.
from .guard import GuardedJSON as JSON
from .guard import GuardedString as String
from .guard import GuardedText as Text

# Every time column stores UTC and reads back aware UTC datetimes (types.py).
from .types import UTCDateTime as DateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

STATUSES = ("pending", "subscribed", "unsubscribed", "bounced", "complained", "erased")
FORMATS = ("html", "plain", "large-print", "easy-read")
BASES = ("consent", "charity-soft-opt-in")
SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "erased", "manual")


def _email_key(context: DefaultExecutionContext) -> str:
    """A new contact's key, from its email: one rule for every insert (import, `contacts add`,
    sign-up, a reply from someone new). An insert may also give the key itself."""
    return mailbox(context.get_current_parameters()["email"]).key  # contacts/identity.py


contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    # Normalised: the domain in lower case; the local part as the person wrote it.
    Column("email", String(320), nullable=False, unique=True),
    # Whose mailbox it is: every spelling of one mailbox has the same key, so one mailbox is one
    # contact. Made from `email` on every insert (see _email_key). Unique by an index, not a
    # constraint: SQLite adds one only by rebuilding the table, which would delete what refers
    # to it.
    Column("email_key", String(320), nullable=False, default=_email_key),
    Column("name", Text, nullable=False, default=""),
    Column("first_name", Text, nullable=False, default=""),
    Column("format", String(16), nullable=False, default="html"),
    # The language they read: a BCP 47 tag, or two space-separated for both (langs.py); ""
    # means the organisation's language.
    Column("lang", String(40), nullable=False, default="", server_default=""),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Index("ix_contacts_status", "status"),
    Index("ix_contacts_email_key", "email_key", unique=True),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("is_topic", Boolean, nullable=False, default=False),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_tags_tag_id", "tag_id"),
)

# Append-only: a record is never changed. Withdrawal is a new record with action "withdrawn".
consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),  # given | withdrawn
    Column("basis", String(32), nullable=False),  # consent | charity-soft-opt-in
    Column("channel", String(32), nullable=False, default="email"),
    Column("method", String(32), nullable=False),  # import | form | manual | ...
    Column("source", Text, nullable=False, default=""),
    Column("wording", Text, nullable=False, default=""),
    Column("opt_out_offered", Boolean, nullable=False, default=True),
    Column("actor", Text, nullable=False, default=""),
    Column("recorded_at", DateTime(), nullable=False),
    Column("import_id", ForeignKey("imports.id", ondelete="SET NULL"), nullable=True),
    Index("ix_consents_contact_id", "contact_id"),
)

# Addresses never to be mailed again. Erased people keep only the hash.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email_hash", String(64), nullable=False, unique=True),
    Column("email", String(320), nullable=True),
    Column("reason", String(16), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("created_at", DateTime(), nullable=False),
)

# One row for each run of `engage contacts import`: who, when, what file, what happened.
imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("actor", Text, nullable=False, default=""),
    Column("started_at", DateTime(), nullable=False),
    Column("added", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
)

# One row per campaign sent (not for test copies): its audience is snapshotted into deliveries.
sends = Table(
    "sends",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign", String(200), nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("audience", String(200), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # sending | stopped | sent
    Column("total", Integer, nullable=False),
    Column("started_at", DateTime(), nullable=False),
    Column("finished_at", DateTime(), nullable=True),
    # A person asked this send to stop (--stop, Ctrl-C, a --limit reached): when, and who.
    Column("stop_asked_at", DateTime(), nullable=True),
    Column("stop_asked_by", String(200), nullable=True),
)

DELIVERY_STATUSES = ("pending", "claimed", "sending", "sent", "failed", "suppressed", "unknown")

# One row per campaign × contact. A row moves pending → claimed → sending → sent (or failed),
# each step committed before the next, so a crash never loses track of who was mailed.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("send_id", ForeignKey("sends.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("batch", String(40), nullable=True),
    Column("owner", String(200), nullable=True),
    Column("claimed_at", DateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", DateTime(), nullable=True),
    Column("message_id", String(250), nullable=True),
    Column("provider_id", String(250), nullable=True),
    Column("error", Text, nullable=True),
    # Why a `suppressed` row was skipped: pending, unsubscribed, bounced, complained, erased or
    # suppressed (on the suppression list by hand). None for rows skipped before 0010.
    Column("skip_reason", String(16), nullable=True),
    # Which version the person was sent: standard, large-print, easy-read or plain, and its
    # language (None before 0021, and until the row is handed over).
    Column("variant", String(16), nullable=True),
    Column("lang", String(40), nullable=True),
    UniqueConstraint("send_id", "contact_id", name="uq_deliveries_send_id_contact_id"),
    Index("ix_deliveries_send_id_status", "send_id", "status"),
    Index("ix_deliveries_batch", "batch"),
    Index("ix_deliveries_message_id", "message_id"),
    Index("ix_deliveries_contact_id", "contact_id"),
)

# The processes sending each send now (several may share one campaign, each claiming its own
# batches): each renews its lease while it works, so the others can tell a dead sender's rows
# from a live one's (engage/journal.py: working).
senders = Table(
    "senders",
    metadata,
    Column("send_id", ForeignKey("sends.id", ondelete="CASCADE"), primary_key=True),
    Column("owner", String(200), primary_key=True),
    Column("joined_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
)

# Named locks for `engage run` on SQLite (PostgreSQL uses an advisory lock instead).
locks = Table(
    "locks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
)

# What the providers tell us about each message. Stored once per provider event id.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("recipient", String(320), nullable=False, default=""),
    Column("delivery_id", ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    Column("occurred_at", DateTime(), nullable=False),
    Column("received_at", DateTime(), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("raw", JSON, nullable=False),
    UniqueConstraint("provider", "event_id", name="uq_events_provider_event_id"),
    Index("ix_events_delivery_id", "delivery_id"),
)

# Mail that came in (replies, and mail to the unsubscribe address), kept whole.
inbound = Table(
    "inbound",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("dedupe_key", String(300), nullable=False),  # the Message-ID, or a hash of the mail
    Column("sender", String(320), nullable=False),
    Column("sender_name", Text, nullable=False, default=""),
    Column("recipient", String(320), nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("html", Text, nullable=False, default=""),
    Column("message_id", String(300), nullable=False, default=""),
    Column("in_reply_to", Text, nullable=False, default=""),
    Column("references", Text, nullable=False, default=""),
    Column("headers", JSON, nullable=False),
    Column("raw", JSON, nullable=False),
    Column("received_at", DateTime(), nullable=False),
    UniqueConstraint("dedupe_key", name="uq_inbound_dedupe_key"),
)

# Signature tokens already used (Mailgun): a request that repeats one is a replay.
seen_tokens = Table(
    "seen_tokens",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("token", String(200), primary_key=True),
    Column("seen_at", DateTime(), nullable=False),
)

# Counters for rate limits on the web forms (keys are hashes, never addresses or IPs), and the
# shared pace of sending (key "email-rate": window_start is when the next message may go).
throttle = Table(
    "throttle",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("window_start", DateTime(), nullable=False),
    Column("hits", Integer, nullable=False),
)

POST_STATUSES = ("pending", "in_flight", "posted", "failed", "unknown")

# One row per campaign × channel × part of a thread: recorded before and after each post, so
# a re-run, a crash or two overlapping runs never post twice.
posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign", String(200), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("part", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("remote_id", String(300), nullable=True),
    Column("url", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("owner", String(200), nullable=True),
    Column("updated_at", DateTime(), nullable=False),
    UniqueConstraint("campaign", "channel", "part", name="uq_posts_campaign_channel_part"),
)

# Who each reply is from and which campaign it answers (see replies/match.py).
inbound.append_column(
    Column("contact_id", ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True)
)
inbound.append_column(Column("send_id", ForeignKey("sends.id", ondelete="SET NULL"), nullable=True))
inbound.append_column(
    Column("delivery_id", ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True)
)
inbound.append_column(Column("matched_by", String(32), nullable=False, default=""))

# The replies inbox (replies/inbox.py): the original mail, its cleaned words, what kind of reply
# it is, and who on the team is dealing with it.
REPLY_KINDS = ("story", "question", "unsubscribe", "auto-reply", "bounce", "other")
REPLY_STATUSES = ("new", "assigned", "done")
inbound.append_column(Column("original", LargeBinary, nullable=True))
inbound.append_column(Column("clean_text", Text, nullable=False, default=""))
inbound.append_column(Column("quoted", Text, nullable=False, default=""))
inbound.append_column(Column("signature", Text, nullable=False, default=""))
inbound.append_column(Column("kind", String(16), nullable=False, default="other"))
inbound.append_column(Column("status", String(16), nullable=False, default="new"))
inbound.append_column(Column("owner", Text, nullable=False, default=""))
inbound.append_column(Column("campaign", String(200), nullable=True))
inbound.append_column(Column("notes", JSON, nullable=False, default=list))
inbound.append_column(Column("updated_at", DateTime(), nullable=True))
Index("ix_inbound_contact_id", inbound.c.contact_id)
Index("ix_inbound_campaign", inbound.c.campaign)
Index("ix_inbound_status", inbound.c.status)

# A person's handles on the social networks, so replies there find them.
contact_handles = Table(
    "contact_handles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("network", String(32), nullable=False),  # mastodon | bluesky | x
    Column("handle", String(320), nullable=False),  # lower case, no leading @
    UniqueConstraint("network", "handle", name="uq_contact_handles_network_handle"),
    Index("ix_contact_handles_contact_id", "contact_id"),
)

STORY_STATUSES = (
    "received",
    "in-progress",
    "awaiting-approval",
    "approved",
    "published",
    "declined",
    "withdrawn",
)

# A contributor's story, from the reply that opened it to publication (stories/).
stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("reply_id", ForeignKey("inbound.id", ondelete="SET NULL"), nullable=True),
    Column("campaign", String(200), nullable=True),  # the call for stories it answers
    Column("title", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("owner", Text, nullable=False, default=""),
    Column("link", Text, nullable=False, default=""),  # where it was published
    Column("opened_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Column("told_at", DateTime(), nullable=False),  # our last word to them
    Index("ix_stories_contact_id", "contact_id"),
    Index("ix_stories_status", "status"),
)

# Each edited version the contributor is asked to approve, and what they said.
story_drafts = Table(
    "story_drafts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("story_id", ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("decision", String(16), nullable=False, default=""),  # "" | approved | changes
    Column("decided_at", DateTime(), nullable=True),
    Column("comment", Text, nullable=False, default=""),
    UniqueConstraint("story_id", "version", name="uq_story_drafts_story_id_version"),
)

# Everything that happened to a story, in order: its whole history.
story_history = Table(
    "story_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("story_id", ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("action", String(32), nullable=False),
    Column("status", String(20), nullable=False, default=""),  # the status after it
    Column("note", Text, nullable=False, default=""),
    Column("link", Text, nullable=False, default=""),
    Column("actor", Text, nullable=False, default=""),
    Index("ix_story_history_story_id", "story_id"),
)

# Where a story went out: each campaign email and social channel that used it.
story_uses = Table(
    "story_uses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("story_id", ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("campaign", String(200), nullable=False),
    Column("channel", String(100), nullable=False),  # newsletter, or a [social.NAME] channel
    Column("link", Text, nullable=False, default=""),
    Column("at", DateTime(), nullable=False),
    # Taken for (or sent in) a "your story went out" email.
    Column("told", Boolean, nullable=False, default=False),
    UniqueConstraint(
        "story_id", "campaign", "channel", name="uq_story_uses_story_id_campaign_channel"
    ),
)
# Where it went out in the contributor's words, like "on Mastodon" (migration 0013).
story_uses.append_column(Column("place", Text, nullable=False, default=""))

# Consent to publish is a consent record too, for one story: channel is where it may appear
# (newsletter, website, a social channel) or what may be used (name, photo).
consents.append_column(
    Column("story_id", ForeignKey("stories.id", ondelete="CASCADE"), nullable=True)
)

ARCHIVE_ORIGINS = ("send", "file", "")

# The public archive (archive.py): a frozen copy of each newsletter as it went out, made when
# the send starts and never changed after, and whether the team has taken its page down.
archive_pages = Table(
    "archive_pages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign", String(200), nullable=False, unique=True),
    Column("send_id", ForeignKey("sends.id", ondelete="SET NULL"), nullable=True),
    Column("subject", Text, nullable=False, default=""),
    Column("preheader", Text, nullable=False, default=""),
    Column("sent_at", DateTime(), nullable=True),
    Column("sent_on", Date, nullable=True),  # the day it went out, in the campaign's own zone
    Column("html", Text, nullable=True),  # the standard email as the archive shows it
    Column("large_print", Text, nullable=True),
    Column("text", Text, nullable=True),
    # send: frozen when the send started; file: copied from the campaign file later (a send
    # from before engage kept copies); "": no copy kept yet.
    Column("origin", String(16), nullable=False, default=""),
    Column("frozen_at", DateTime(), nullable=True),
    Column("removed_at", DateTime(), nullable=True),
    Column("removed_by", Text, nullable=False, default=""),
    Column("removed_note", Text, nullable=False, default=""),
)

# The send whose email the person used to withdraw (its unsubscribe link), when there was one.
consents.append_column(
    Column("send_id", ForeignKey("sends.id", ondelete="SET NULL"), nullable=True)
)

# Changes to a person's tags and format, beyond consent: who made each (the person, on a web
# page, or a team member) and from where. Shown in their timeline (contacts/timeline.py).
CHANGE_KINDS = ("signup-tags", "preferences")
contact_changes = Table(
    "contact_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("actor", Text, nullable=False, default=""),
    Column("source", Text, nullable=False, default=""),
    Column("at", DateTime(), nullable=False),
    Index("ix_contact_changes_contact_id", "contact_id"),
)

# Why an event was not linked to the delivery its ids named: the delivery went to someone else
# (migration 0015). Empty for nearly every event.
events.append_column(Column("note", Text, nullable=False, default=""))

# Events that passed the provider's check but that engage could not read, kept as they came
# with the reason, once each (key: a digest of the event), so the team can see them
# (`engage webhooks problems`) and the provider is not asked to send them again.
unreadable_events = Table(
    "unreadable_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("key", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("recipient", String(320), nullable=False, default=""),
    Column("raw", Text, nullable=False),
    Column("received_at", DateTime(), nullable=False),
    UniqueConstraint("provider", "key", name="uq_unreadable_events_provider_key"),
)

# The files that came with replies (replies/attachments.py): kept in the workspace's attachments
# folder (path is inside it), or set aside with the reason (too big), never in the database.
attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("inbound_id", ForeignKey("inbound.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),  # as the sender gave it: shown, never a path
    Column("content_type", String(200), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False, default=""),
    Column("path", Text, nullable=True),  # None: not kept (see set_aside)
    Column("set_aside", Text, nullable=False, default=""),
    Column("content_id", Text, nullable=False, default=""),
    Column("created_at", DateTime(), nullable=False),
    UniqueConstraint("inbound_id", "position", name="uq_attachments_inbound_id_position"),
)

OUTGOING_STATES = ("waiting", "claimed", "sending", "sent", "skipped", "failed", "unknown")

# engage's own emails waiting to go, sent outside the web request (outgoing.py). A row moves
# waiting → claimed → sending → sent (or skipped, failed, unknown), each step committed before
# the next, like deliveries: `sending` is written before the provider sees the message, so one
# whose answer was lost is unknown, never sent again by itself. `payload` holds what is needed
# to make the email: for a sign-up, the name, format and topics from the form; for a story
# email, the message itself; once a row is done only which email it was is kept.
# `address_key` is the address's identity, so erasing a person removes their rows (a sign-up's
# row is there before any contact is).
outgoing = Table(
    "outgoing",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),  # signup | story | team-signin
    Column("address", String(320), nullable=False),
    Column("address_key", String(320), nullable=False),
    Column("contact_id", Integer, nullable=True),
    Column("story_id", Integer, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("owner", String(200), nullable=True),
    Column("claimed_at", DateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", DateTime(), nullable=False),
    Column("message_id", String(250), nullable=True),
    Column("provider_id", String(250), nullable=True),
    Column("error", Text, nullable=False, default=""),
    Column("created_at", DateTime(), nullable=False),
    Column("done_at", DateTime(), nullable=True),
    Index("ix_outgoing_state_not_before", "state", "not_before"),
    Index("ix_outgoing_address_key", "address_key"),
)

TEAM_ROLES = ("editor", "sender", "admin")

# The media team's accounts for the console (team/). `email_key` is the address's identity, so
# two spellings are one account. `password_hash` is argon2's (never the password), empty when
# the team signs in by email link. A removed member keeps their row (`removed_at`), so the
# audit log still says who they were; `sessions_from` ends every session begun before it
# ("sign out everywhere").
team_members = Table(
    "team_members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False, default=""),
    Column("added_at", DateTime(), nullable=False),
    Column("removed_at", DateTime(), nullable=True),
    Column("sessions_from", DateTime(), nullable=True),
)

# A signed-in browser. Only the SHA-256 of the session's secret is kept: the cookie's value
# cannot be read back from the store.
team_sessions = Table(
    "team_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("team_members.id"), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("seen_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("ended_at", DateTime(), nullable=True),
    Index("ix_team_sessions_member_id", "member_id"),
)

# Single-use sign-in links, by their SHA-256; `used_at` is set by the one request that uses it.
team_links = Table(
    "team_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("team_members.id"), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("used_at", DateTime(), nullable=True),
)

# Who did what, and when: sends started, paused or cancelled, schedules, story moves, exports,
# erasures, sign-ins and changes to the team. `actor` is a team member's address, or
# "command line (USER)" for the CLI; `subject` names what it was done to.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(400), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_log_at", "at"),
)

# When a campaign goes out, as a person set it with the console or `engage campaigns schedule`
# (send_status.py reads it, sending/schedule.py writes it). A row wins over the file's send_at:
# `send_at` is the time, or None when a person unscheduled it (then nothing sends it by
# itself, whatever the file says). No row: the file's send_at is the time.
schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign", String(200), nullable=False, unique=True),
    Column("send_at", DateTime(), nullable=True),
    Column("set_by", String(320), nullable=False),
    Column("set_at", DateTime(), nullable=False),
)

# A send a person cancelled (the console, `engage send CAMPAIGN --cancel`): like a stopped
# send, but nothing carries it on, not even --resume. Added to `sends` in migration 0020.
sends.append_column(Column("cancelled_at", DateTime(), nullable=True))
sends.append_column(Column("cancelled_by", String(200), nullable=True))
