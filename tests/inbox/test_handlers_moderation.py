"""Reports (Flag) reach the admins; blocks of departments stop deliveries to the blocker until undone."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from actors.queries import LocalActor
from outbox.fanout import follower_inboxes
from tests.conftest import TEST_SECRET
from tests.inbox.conftest import Deliver
from tests.inbox.support import local_post
from tests.peers import PeerUser, RemotePeer

Fixture = Callable[[str], dict[str, Any]]
Step = Callable[[], Awaitable[int]]
FEDI = shutil.which("fedi", path=str(Path(sys.executable).parent)) or shutil.which("fedi")


async def reports(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT uri, reporter_id, target_id, post_ids, content FROM reports ORDER BY id")
    return [dict(r) for r in rows]


async def admin_reports_list(database_url: str, tmp_path: Path) -> str:
    """The output of ``fedi admin reports list`` against the test's database."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEDI_") and k != "DATABASE_URL"}
    environ |= {"DATABASE_URL": database_url, "FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": TEST_SECRET,
                "FEDI_DATA_DIR": str(tmp_path / "var")}
    assert FEDI is not None, "the fedi console script is not installed"
    process = await asyncio.create_subprocess_exec(
        FEDI, "admin", "reports", "list", env=environ, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_flag_becomes_a_report_admins_can_list(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, library: LocalActor, peer: RemotePeer,
    alice: PeerUser, database_url: str, tmp_path: Path,
) -> None:
    post = await local_post(conn, library)
    flag = peer.activity(alice, "Flag", [library.uri, post["uri"]], content="<p>Wrong opening hours</p>")
    lemmy_flag = peer.activity(alice, "Flag", post["uri"], summary="misleading", to=[library.uri])
    for activity in (flag, lemmy_flag):
        assert (await deliver(activity))[0] == 202
    await process()
    alice_id = await conn.fetchval("SELECT id FROM actors WHERE uri = $1", alice.uri)
    assert await reports(conn) == [
        {"uri": flag["id"], "reporter_id": alice_id, "target_id": library.id, "post_ids": [post["id"]], "content": "Wrong opening hours"},
        {"uri": lemmy_flag["id"], "reporter_id": alice_id, "target_id": library.id, "post_ids": [post["id"]], "content": "misleading"},
    ]
    lines = (await admin_reports_list(database_url, tmp_path)).splitlines()
    assert lines[0].split() == ["ID", "WHEN", "REPORTER", "TARGET", "POSTS", "CONTENT"]
    assert lines[2].split()[2:] == [f"alice@{peer.host}", "library", str(post["id"]), "Wrong", "opening", "hours"]


async def test_a_flag_about_nothing_of_ours_is_ignored(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, bob: PeerUser
) -> None:
    await deliver(peer.activity(alice, "Flag", [bob.uri], content="spam"))
    await process()
    assert await reports(conn) == []


async def test_a_block_stops_deliveries_to_the_blocker_until_undone(
    deliver: Deliver, fixture: Fixture, process: Step, conn: asyncpg.Connection, library: LocalActor,
    peer: RemotePeer, alice: PeerUser,
) -> None:
    await deliver(peer.activity(alice, "Follow", library.uri))
    await process()
    assert await follower_inboxes(conn, library.id) == [f"{peer.base_url}/inbox"]

    block = fixture("mastodon-block")
    assert (await deliver(block))[0] == 202
    await process()
    assert await conn.fetchval("SELECT uri FROM blocks WHERE blocked_id = $1", library.id) == block["id"]
    assert await follower_inboxes(conn, library.id) == []

    undo = fixture("mastodon-undo-block")  # the embedded Block has another id than the one stored
    assert (await deliver(undo))[0] == 202
    await process()
    assert await conn.fetchval("SELECT count(*) FROM blocks") == 0
    assert await follower_inboxes(conn, library.id) == [f"{peer.base_url}/inbox"]


async def test_a_block_of_anyone_else_is_ignored(
    deliver: Deliver, process: Step, conn: asyncpg.Connection, peer: RemotePeer, alice: PeerUser, bob: PeerUser
) -> None:
    await deliver(peer.activity(alice, "Block", bob.uri))
    await process()
    assert await conn.fetchval("SELECT count(*) FROM blocks") == 0
