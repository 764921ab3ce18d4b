"""Fake provider HTTP APIs for tests and benchmarks (standard library only)."""

from .providers import FakeMailgun, FakePostmark, FakeProvider, FakeSendGrid, RecordedRequest

__all__ = ["FakeMailgun", "FakePostmark", "FakeProvider", "FakeSendGrid", "RecordedRequest"]
