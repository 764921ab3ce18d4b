"""Replies from every channel: collected, matched to people and campaigns, cleaned, triaged."""
