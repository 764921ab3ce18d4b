"""X through tweepy (OAuth 1.0a user context). Posting is paid for per post, more with a link,
so `cost()` says what a post will cost before anything is posted.

Images go up through X's v2 media endpoints (tweepy only has the v1.1 upload, which X is
retiring), signed with the same OAuth 1.0a keys, with alt text set on each.
"""

from __future__ import annotations

import functools

import requests
import tweepy
from requests_oauthlib import OAuth1Session

from ..config import secret
from ..errors import AuthFailed, ProviderError, Rejected, TryLater
from ..models import SocialReply
from . import counting
from .base import Channel, Limits, Part, Posted

API = "https://api.x.com"
PRICE, PRICE_WITH_LINK = 0.015, 0.20  # US dollars a post (pay-per-use, 2026)


class XChannel(Channel):
    network = "x"
    title = "X (Twitter)"

    def limits(self) -> Limits:
        return Limits(max_length=280, max_images=4, unit="weighted characters")

    def measure(self, text: str) -> int:
        return counting.x_length(text)

    def problems(self, text: str) -> list[str]:
        return [
            f"X does not take posts with {name} in them. Delete it: most editors do not show it."
            for name in counting.x_invalid_characters(text)
        ]

    def cost(self, parts: list[Part]) -> float | None:
        return sum(PRICE_WITH_LINK if _has_link(p.text) else PRICE for p in parts)

    def _keys(self) -> dict[str, str]:
        s, prefix = self.settings, f"social.{self.name}"
        return {
            "consumer_key": secret(s.consumer_key_env or "X_API_KEY", f"{prefix}.consumer_key_env"),
            "consumer_secret": secret(
                s.consumer_secret_env or "X_API_SECRET", f"{prefix}.consumer_secret_env"
            ),
            "access_token": secret(
                s.access_token_env or "X_ACCESS_TOKEN", f"{prefix}.access_token_env"
            ),
            "access_token_secret": secret(
                s.access_token_secret_env or "X_ACCESS_TOKEN_SECRET",
                f"{prefix}.access_token_secret_env",
            ),
        }

    def check(self) -> None:
        self._keys()

    @functools.cached_property
    def client(self) -> tweepy.Client:
        client = tweepy.Client(**self._keys())
        timed = functools.partial(client.session.request, timeout=self.settings.timeout)
        client.session.request = timed
        return client

    def _upload(self, part: Part) -> list[str]:
        keys = self._keys()
        session = OAuth1Session(
            keys["consumer_key"],
            keys["consumer_secret"],
            keys["access_token"],
            keys["access_token_secret"],
        )
        ids = []
        for image in part.images:
            with image.path.open("rb") as handle:
                response = session.post(
                    f"{API}/2/media/upload",
                    timeout=self.settings.timeout,
                    files={"media": (image.path.name, handle, image.mime)},
                    data={"media_category": "tweet_image"},
                )
            _raise_for(response, self.name)
            media_id = str(response.json()["data"]["id"])
            _raise_for(
                session.post(
                    f"{API}/2/media/metadata",
                    timeout=self.settings.timeout,
                    json={"id": media_id, "metadata": {"alt_text": {"text": image.alt[:1000]}}},
                ),
                self.name,
            )
            ids.append(media_id)
        return ids

    def publish(self, part: Part, thread: list[Posted], key: str) -> Posted:
        try:
            media_ids = self._upload(part) or None
            response = self.client.create_tweet(
                text=part.text,
                media_ids=media_ids,
                in_reply_to_tweet_id=thread[-1].remote_id if thread else None,
            )
        except tweepy.TooManyRequests as exc:
            raise TryLater(f"X says too many posts for now ({exc})") from None
        except tweepy.Unauthorized:
            raise AuthFailed(
                f"X refused the keys for [social.{self.name}]; check the four *_env settings there."
            ) from None
        except tweepy.Forbidden as exc:
            raise Rejected(f"X refused the post: {exc}") from None
        except tweepy.BadRequest as exc:
            raise Rejected(f"X refused the post: {exc}") from None
        except (tweepy.TwitterServerError, requests.RequestException) as exc:
            raise ProviderError(f"X did not answer clearly: {exc}") from None
        post_id = str(response.data["id"])
        return Posted(remote_id=post_id, url=f"https://x.com/i/web/status/{post_id}")

    def fetch_replies(self, since: str | None) -> list:
        try:
            me = self.client.get_me(user_auth=True).data
            found = self.client.get_users_mentions(
                me.id,
                since_id=since,
                user_auth=True,
                tweet_fields=["author_id", "conversation_id", "referenced_tweets"],
                expansions=["author_id"],
            )
        except tweepy.Forbidden:
            raise ProviderError(
                f"[social.{self.name}]: this X account's API access does not include reading "
                "mentions, so replies on X are not collected. Read them on X itself."
            ) from None
        except tweepy.Unauthorized:
            raise AuthFailed(f"X refused the keys for [social.{self.name}].") from None
        except tweepy.TooManyRequests:
            raise TryLater("X says too many requests; mentions are fetched next time") from None
        users = {u.id: u.username for u in (found.includes or {}).get("users", [])}
        replies = []
        for tweet in found.data or []:
            handle = users.get(tweet.author_id, str(tweet.author_id))
            parent = next(
                (str(r.id) for r in tweet.referenced_tweets or [] if r.type == "replied_to"), ""
            )
            replies.append(
                SocialReply(
                    remote_id=str(tweet.id),
                    author=handle,
                    text=tweet.text,
                    url=f"https://x.com/{handle}/status/{tweet.id}",
                    in_reply_to=parent,
                )
            )
        return replies


def _has_link(text: str) -> bool:
    return any(span.kind == "url" for span in counting.find_spans(text))


def _raise_for(response: requests.Response, name: str) -> None:
    if response.status_code in (401, 403):
        raise AuthFailed(f"X refused the keys for [social.{name}] (HTTP {response.status_code}).")
    if response.status_code == 429:
        raise TryLater("X says too many uploads for now")
    if not response.ok:
        raise Rejected(f"X refused the image: HTTP {response.status_code} {response.text[:200]}")


CHANNEL = XChannel
