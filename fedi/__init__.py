"""fedi: a federated ActivityPub server giving every department of an organisation its own account."""

__version__ = "0.1.0"
