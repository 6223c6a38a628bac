"""Numbered SQL migrations, applied by fedi.migrate."""
