"""Social network posting: X, Mastodon and Bluesky channels."""
