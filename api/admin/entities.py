"""Mastodon's Admin::DomainBlock and Admin::Account entities."""

from __future__ import annotations

import hashlib
from typing import Any

from actors.block_queries import DomainBlock
from actors.queries import Actor
from api.accounts.entities import render_time


def render_domain_block(block: DomainBlock) -> dict[str, Any]:
    """An Admin::DomainBlock; a suspension rejects media and reports too, and fedi publishes no list to obfuscate."""
    return {
        "id": str(block.id),
        "domain": block.domain,
        "digest": hashlib.sha256(block.domain.encode()).hexdigest(),
        "created_at": render_time(block.created_at),
        "severity": block.severity,
        "reject_media": True,
        "reject_reports": True,
        "private_comment": block.private_comment or None,
        "public_comment": block.public_comment or None,
        "obfuscate": False,
    }


def render_admin_account(actor: Actor, account: dict[str, Any], suspended: bool) -> dict[str, Any]:
    """An Admin::Account of a remote account (``account`` is its Account entity): no login, e-mail or IP here."""
    return {
        "id": str(actor.id),
        "username": actor.username,
        "domain": None if actor.local else actor.domain,
        "created_at": render_time(actor.created_at),
        "email": "",
        "ip": None,
        "ips": [],
        "locale": "",
        "invite_request": None,
        "role": None,
        "confirmed": False,
        "approved": True,
        "disabled": False,
        "silenced": False,
        "suspended": suspended,
        "sensitized": False,
        "account": account,
        "created_by_application_id": None,
        "invited_by_account_id": None,
    }
