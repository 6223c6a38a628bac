"""The Mastodon-compatible client API: OAuth 2, entities, and the endpoints fediverse apps call."""
