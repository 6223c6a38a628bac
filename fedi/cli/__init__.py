"""The ``fedi`` command: serve, worker, database and admin subcommands."""
