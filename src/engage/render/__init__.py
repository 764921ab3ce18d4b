"""Turning a campaign into finished messages: Markdown, layouts, MJML, plain text and lint."""
