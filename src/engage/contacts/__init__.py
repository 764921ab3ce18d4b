"""Contacts, consent, suppression and audiences: the people engage writes to, and why it may."""
