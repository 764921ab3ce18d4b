"""The team's console, at /console: the media team's daily work in the browser, signed in.

base.py holds what every page shares (who is signed in, roles, forms, the audit log); each
other module is one part of the console and adds its pages to `blueprint`, in the order the
menu shows them.
"""

from __future__ import annotations

from . import campaigns, home, people, replies, reports, signin, stories
from .base import blueprint

__all__ = ["blueprint", "campaigns", "home", "people", "replies", "reports", "signin", "stories"]
