"""The public web side: pages, feeds and the transparency report, for people without a fediverse account.

Browsers get these pages at the same addresses fediverse servers fetch JSON from (``/users/{name}``,
``/@{name}``, post ids); the routes here answer the page and hand ActivityPub requests to
``actors`` and ``outbox``. Only public posts are listed; dates are days in UTC.
"""
