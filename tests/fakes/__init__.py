"""Fake provider HTTP APIs for tests and benchmarks (standard library only)."""

from .providers import FakeMailgun, FakePostmark, FakeProvider, FakeSendGrid, RecordedRequest
from .social import FakeBluesky, FakeMastodon

__all__ = [
    "FakeBluesky",
    "FakeMailgun",
    "FakeMastodon",
    "FakePostmark",
    "FakeProvider",
    "FakeSendGrid",
    "RecordedRequest",
]
