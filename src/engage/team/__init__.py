"""The media team who use the console: their accounts and roles (members.py), how they sign
in (sessions.py, links.py, passwords.py) and the audit log of who did what (audit.py).

The CLI (`engage team`) and the console (web/console/) both call these, so they never disagree.
"""
