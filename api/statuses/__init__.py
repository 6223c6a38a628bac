"""Statuses and what surrounds them in the client API: posting, timelines, notifications, media, search, scheduling."""
