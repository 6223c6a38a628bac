"""Mastodon's admin API for the instance's moderators: domain blocks and suspending remote accounts."""
