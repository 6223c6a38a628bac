"""Errors raised by the actors package."""

from fedi.errors import FediError


class ActorsError(FediError):
    """Base of the actors package's errors."""


class ValidationError(ActorsError):
    """Input that cannot be accepted; the message names the field and the rule."""


class NotFound(ActorsError):
    """No department, staff member or membership of that name."""


class Conflict(ActorsError):
    """The name is taken (or was taken by a deleted department)."""


class InvalidDocument(ActorsError):
    """A remote document is malformed or names things it may not (another host's objects)."""


class FetchFailed(ActorsError):
    """A remote actor, key or object could not be fetched."""
