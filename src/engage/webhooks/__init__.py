"""Storing what the providers' webhooks bring: events, each once, and inbound mail (store.py).
Verifying and parsing a request is each provider's own (engage/providers/)."""
