"""Provider webhooks and inbound mail: each provider's module verifies a request with that
provider's own scheme, then turns it into normalised events or an inbound message."""
