"""The admin API's routes (each list route also answers with a trailing slash, as Mastodon.py calls it)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from api.admin import accounts, domain_blocks

routes: list[BaseRoute] = [
    Route("/api/v1/admin/domain_blocks", domain_blocks.list_domain_blocks, methods=["GET"]),
    Route("/api/v1/admin/domain_blocks/", domain_blocks.list_domain_blocks, methods=["GET"]),
    Route("/api/v1/admin/domain_blocks", domain_blocks.create_domain_block, methods=["POST"]),
    Route("/api/v1/admin/domain_blocks/", domain_blocks.create_domain_block, methods=["POST"]),
    Route("/api/v1/admin/domain_blocks/{id}", domain_blocks.get_domain_block, methods=["GET"]),
    Route("/api/v1/admin/domain_blocks/{id}", domain_blocks.update_domain_block, methods=["PUT"]),
    Route("/api/v1/admin/domain_blocks/{id}", domain_blocks.delete_domain_block, methods=["DELETE"]),
    Route("/api/v1/admin/accounts/{id}/action", accounts.account_action, methods=["POST"]),
    Route("/api/v1/admin/accounts/{id}/unsuspend", accounts.unsuspend_account, methods=["POST"]),
]
