"""The root of every error fedi raises on purpose."""


class FediError(Exception):
    """Base class of fedi's own errors; each package derives its small tree from it."""


class SettingsError(FediError):
    """A setting is missing or malformed; the message says which and how to fix it."""


class MigrationError(FediError):
    """The database schema cannot be brought up to date."""
