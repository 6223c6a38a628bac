"""``fedi admin export`` and ``fedi admin import``: a department moved to a new database serves the same documents."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import trustme

from fedi.database import connect
from fedi.settings import load_settings
from tests.conftest import TEST_SECRET, FediCommand
from tests.outbox.test_archive import Seeded, counts, seeded  # noqa: F401 (the fixture)
from tests.processes import Result, clean_environ, run_fedi
from tests.servers import running_server, trusting_http_client_factory

AP = {"Accept": "application/activity+json"}
HTML = {"Accept": "text/html"}


def importer(url: str, data_dir: Path, cwd: Path) -> Callable[..., Awaitable[Result]]:
    """Run ``fedi`` against another database (same domain and secret, its own data directory)."""
    env = clean_environ(DATABASE_URL=url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET, FEDI_DATA_DIR=str(data_dir))
    return lambda *args: run_fedi(*args, env=env, cwd=cwd)


async def documents(http: aiohttp.ClientSession, base_url: str, seeded: Seeded) -> dict[str, object]:
    """What the running server answers for the department's pages and collections."""
    post = f"/users/library/statuses/{seeded.first.id}"
    paths = {
        "/users/library/outbox": AP, "/users/library/outbox?page=true": AP, "/users/library/followers": AP,
        "/users/library/followers?page=true": AP, "/users/library/collections/featured": AP, post: AP,
        f"{post}/replies": AP, f"/users/library/statuses/{seeded.edited.id}": AP,
        f"/users/library/statuses/{seeded.deleted.id}": AP, "/@library": HTML, f"/@library/{seeded.first.id}": HTML,
        "/@library.atom": HTML,
    }
    found: dict[str, object] = {}
    for path, headers in paths.items():
        async with http.get(base_url + path, headers=headers) as response:
            text = await response.text()
            found[path] = (response.status, json.loads(text) if headers is AP else text)
    async with http.get(f"{base_url}/media/{seeded.image_name}") as response:
        found["media"] = (response.status, await response.read())
    async with http.get(f"{base_url}/users/library", headers=AP) as response:
        actor = await response.json()
    found["actor"] = {k: v for k, v in actor.items() if k != "publicKey"}
    return found


async def test_a_department_exported_and_imported_into_an_empty_database_serves_the_same_documents(
    conn: asyncpg.Connection, seeded: Seeded, fedi_command: FediCommand, new_database: Callable[[], Awaitable[str]],
    tmp_path: Path, http: aiohttp.ClientSession, server: str, test_ca: trustme.CA,
) -> None:
    archive = tmp_path / "library.zip"
    exported = await fedi_command("admin", "export", "library", "--output", str(archive))
    assert exported.status == 0, exported.err
    assert f"wrote {archive}" in exported.lines and "posts: 5" in exported.lines and "followers: 2" in exported.lines
    again = await fedi_command("admin", "export", "library", "--output", str(archive))
    assert again.status == 2 and "already exists" in again.err
    before = await documents(http, server, seeded)

    url = await new_database()
    fedi = importer(url, tmp_path / "new-var", tmp_path)
    first = await fedi("admin", "import", str(archive), "--department", "library")
    assert first.status == 0, first.err
    assert "department library: created" in first.lines and "posts: 5 restored, 0 already present" in first.lines
    assert "replies: 1 restored, 0 already present" in first.lines

    target_settings = load_settings(
        environ={}, domain="city.example", secret_key=TEST_SECRET, database_url=url, data_dir=str(tmp_path / "new-var")
    )
    async with running_server(target_settings, http_client=trusting_http_client_factory(test_ca)) as moved:
        after = await documents(http, moved.base_url, seeded)
    assert after == before

    target = await connect(url)
    try:
        rows = await counts(target)
        second = await fedi("admin", "import", str(archive))
        assert second.status == 0, second.err
        assert "department library: unchanged" in second.lines
        assert "nothing changed: everything in the archive was already here" in second.lines
        assert await counts(target) == rows
    finally:
        await target.close()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def test_bad_archives_are_refused_and_nothing_is_written(
    seeded: Seeded, fedi_command: FediCommand, new_database: Callable[[], Awaitable[str]], tmp_path: Path,
) -> None:
    archive = tmp_path / "library.tar.gz"
    assert (await fedi_command("admin", "export", "library", "--output", str(archive))).status == 0
    good = (tmp_path / "good.zip")
    assert (await fedi_command("admin", "export", "library", "--output", str(good))).status == 0
    with zipfile.ZipFile(good) as opened:
        members = {name: opened.read(name) for name in opened.namelist()}

    def changed(name: str, data: bytes | None) -> bytes:
        return _zip({k: v for k, v in members.items() if k != name} | ({} if data is None else {name: data}))

    manifest = json.loads(members["manifest.json"])
    bad = {
        "text.zip": (b"not an archive at all", "is not a .zip or .tar.gz archive"),
        "version.zip": (changed("manifest.json", json.dumps(manifest | {"version": 7}).encode()), "version 7 is not supported"),
        "domain.zip": (changed("manifest.json", json.dumps(manifest | {"domain": "town.example"}).encode()), "ids cannot change"),
        "missing.zip": (changed("outbox.json", None), "the archive has no outbox.json"),
        "malformed.zip": (changed("followers.json", b"{not json"), "followers.json is not valid JSON"),
    }
    url = await new_database()
    fedi = importer(url, tmp_path / "new-var", tmp_path)
    target = await connect(url)
    try:
        before = await counts(target)
        for name, (data, message) in bad.items():
            (tmp_path / name).write_bytes(data)
            result = await fedi("admin", "import", str(tmp_path / name))
            assert result.status == 2, (name, result.err)
            assert result.err.startswith("fedi: error: ") and message in result.err, (name, result.err)
            assert result.out == ""
        wrong = await fedi("admin", "import", str(archive), "--department", "museum")
        assert wrong.status == 2 and "not 'museum'" in wrong.err
        assert await counts(target) == before
        assert await target.fetchval("SELECT count(*) FROM posts") == 0
        assert not (tmp_path / "new-var" / "media").exists()

        restored = await fedi("admin", "import", str(archive))
        assert restored.status == 0 and "department library: created" in restored.lines
    finally:
        await target.close()
