"""The complete actions: send a campaign, post a campaign, fetch replies, take an inbound
message, keep contributors informed. Each does the whole job (lint with every check, record
where stories were used, open stories, thank contributors, send what is owed), so the CLI,
`engage run` and the web app call the same action and only format what it returns.

Layers: this package stands above sending, replies, stories and social, and below cli, web
and the scheduler. Nothing below it imports it.
"""
