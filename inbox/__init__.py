"""Receiving activities: verify, store, then process each by its handler."""
