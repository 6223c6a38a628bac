"""Benchmark of ``fedi admin apply`` at city scale, on its own embedded PostgreSQL.

    .venv/bin/python bench/provision.py [--departments 500] [--staff 21000] [--areas 20]

Generates a provisioning file (departments in areas; every staff member in one or two
departments, ~25,000 memberships for 21,000 staff), then times: the first apply (parse, plan
and write, as ``fedi admin apply`` does: the key pairs are left to the worker), key generation for
every department in the process pool (``fedi admin keys generate``, or ``apply --wait-for-keys``)
next to the single-core RSA-2048 rate measured in the same run, a re-apply changing nothing,
and a re-apply after changing 1% of the entries. Everything lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from actors.key_generation import count_pending, generate_pending_keys  # noqa: E402
from actors.provisioning import Plan, apply_plan, plan_provisioning  # noqa: E402
from actors.provisioning_file import parse_provisioning_file  # noqa: E402
from actors.queries import LocalActor  # noqa: E402
from fedi.database import connect  # noqa: E402
from fedi.embedded import start_embedded_postgres  # noqa: E402
from fedi.migrate import migrate  # noqa: E402
from fedi.settings import Settings, load_settings  # noqa: E402
from keys.keypairs import KeyVault  # noqa: E402
from bench.common import Figure, Target, bench_main  # noqa: E402

SECRET = "bench-secret-" + "b" * 40
ROLES = ("viewer", "viewer", "editor", "editor", "editor", "admin")
SINGLE_CORE_SAMPLE = 20
SEED = 1
FULL_DEPARTMENTS = 500
FULL_STAFF = 21_000
Entry = dict[str, Any]  # a [[department]] or [[staff]] table


@dataclass(frozen=True)
class Timing:
    """How long one step took and what it did."""

    step: str
    seconds: float
    note: str


def city(departments: int, staff: int, areas: int) -> tuple[list[Entry], list[Entry]]:
    """Departments spread over areas and staff each in one or two departments (about one in five in two)."""
    rng = random.Random(SEED)
    depts: list[Entry] = [
        {
            "username": f"dept_{i:03d}",
            "display_name": f"Department {i} of the City",
            "summary": f"News from department {i}.\n\nSee https://city.example/departments/{i}",
            "area": f"Area {i % areas:02d}",
            "avatar_url": f"https://city.example/img/dept_{i:03d}.png",
            "discoverable": i % 10 != 0,
            "fields": [
                {"name": "Opening hours", "value": "Mon-Fri 9-17"},
                {"name": "Contact", "value": f"dept{i}@city.example"},
            ],
        }
        for i in range(departments)
    ]
    people: list[Entry] = []
    for i in range(staff):
        first = rng.randrange(departments)
        memberships = {f"dept_{first:03d}": rng.choice(ROLES)}
        if rng.random() < 0.19:
            memberships[f"dept_{(first + 1 + rng.randrange(departments - 1)) % departments:03d}"] = rng.choice(ROLES)
        people.append(
            {"username": f"staff.{i:05d}", "name": f"Staff Member {i}", "email": f"staff{i}@city.example",
             "memberships": memberships}
        )
    return depts, people


def change_one_percent(
    departments: list[Entry], staff: list[Entry]
) -> tuple[list[Entry], list[Entry]]:
    """Copies with 1% of the departments renamed, 1% of staff renamed and 1% of them changing a role."""
    rng = random.Random(SEED + 1)
    departments = [dict(d) for d in departments]
    staff = [dict(s) for s in staff]
    for i in rng.sample(range(len(departments)), max(1, len(departments) // 100)):
        departments[i]["display_name"] = f"{departments[i]['display_name']} (renamed)"
    for i in rng.sample(range(len(staff)), max(1, len(staff) // 100)):
        staff[i]["name"] = f"{staff[i]['name']} Jr"
    for i in rng.sample(range(len(staff)), max(1, len(staff) // 100)):
        memberships = dict(staff[i]["memberships"])
        department = next(iter(memberships))
        memberships[department] = "admin" if memberships[department] != "admin" else "viewer"
        staff[i]["memberships"] = memberships
    return departments, staff


def to_toml(departments: list[Entry], staff: list[Entry]) -> str:
    """The provisioning file for these entries (JSON string escapes are valid TOML basic strings)."""
    lines = []
    for d in departments:
        lines.append("[[department]]")
        for key, value in d.items():
            if key == "fields":
                pairs = ", ".join(
                    f"{{ name = {json.dumps(f['name'])}, value = {json.dumps(f['value'])} }}"
                    for f in value
                )
                lines.append(f"fields = [ {pairs} ]")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    for s in staff:
        roles = ", ".join(f"{d} = {json.dumps(r)}" for d, r in s["memberships"].items())
        lines += [
            "[[staff]]", f"username = {json.dumps(s['username'])}", f"name = {json.dumps(s['name'])}",
            f"email = {json.dumps(s['email'])}", f"memberships = {{ {roles} }}",
        ]
    return "\n".join(lines) + "\n"


def describe(plan: Plan) -> str:
    """Counts of changed entries per kind."""
    parts = []
    for kind, changes in (("departments", plan.departments), ("staff", plan.staff), ("memberships", plan.memberships)):
        counts = {k: v for k, v in changes.counts().items() if v and k != "unchanged"}
        parts.append(f"{kind} " + (", ".join(f"{v} {k}" for k, v in counts.items()) or "unchanged"))
    return "; ".join(parts)


async def timed_apply(
    conn: asyncpg.Connection, settings: Settings, content: str, label: str
) -> tuple[list[Timing], list[LocalActor]]:
    """Parse, plan and write one file; the timings of each phase and the departments as stored."""
    started = time.perf_counter()
    desired = parse_provisioning_file(content)
    parsed = time.perf_counter()
    async with conn.transaction():
        plan = await plan_provisioning(conn, desired)
        planned = time.perf_counter()
        departments = await apply_plan(conn, settings, plan)
    pending = await count_pending(conn)  # what the command prints last
    done = time.perf_counter()
    return [
        Timing(f"{label}: total", done - started, f"{describe(plan)}; {pending} key pair(s) pending"),
        Timing("  parse and validate the file", parsed - started, f"{len(content) / 1e6:.1f} MB of TOML"),
        Timing("  load state and plan", planned - parsed, ""),
        Timing("  write, commit and count the keys pending", done - planned, ""),
    ], departments


def single_core_rate(vault: KeyVault) -> float:
    """RSA-2048 key pairs per second generated in this process."""
    started = time.perf_counter()
    for _ in range(SINGLE_CORE_SAMPLE):
        vault.generate()
    return SINGLE_CORE_SAMPLE / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> tuple[list[Timing], list[Figure]]:
    """Every measurement, in order, and the figures they give."""
    departments, staff = city(args.departments, args.staff, args.areas)
    content = to_toml(departments, staff)
    changed = to_toml(*change_one_percent(departments, staff))
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="fedi-bench-") as directory:
        url, server = start_embedded_postgres(Path(directory))
        try:
            settings = load_settings(
                environ={}, domain="city.example", secret_key=SECRET, database_url=url, data_dir=directory
            )
            vault = KeyVault(SECRET)
            conn = await connect(url)
            try:
                await migrate(conn)
                first, _ = await timed_apply(conn, settings, content, "first apply")
                timings += first
                rate = single_core_rate(vault)
                started = time.perf_counter()
                made = await generate_pending_keys(conn, vault)
                seconds = time.perf_counter() - started
                timings.append(Timing(
                    f"key generation ({made} departments)", seconds,
                    f"{made / seconds:.1f} keys/s vs {rate:.1f} keys/s on one core: x{made / seconds / rate:.2f}",
                ))
                timings.append(Timing("  one key on one core", 1 / rate, f"sample of {SINGLE_CORE_SAMPLE}"))
                unchanged = (await timed_apply(conn, settings, content, "re-apply, no change"))[0]
                one_percent = (await timed_apply(conn, settings, changed, "re-apply, 1% changed"))[0]
                timings += unchanged + one_percent
            finally:
                await conn.close()
        finally:
            server.cleanup()
    full = args.departments >= FULL_DEPARTMENTS and args.staff >= FULL_STAFF
    size = f"{args.departments:,} departments + {args.staff:,} staff"
    return timings, [
        Figure(f"provisioning: first apply of {size}", first[0].seconds, "s", target=Target(10, at_least=False),
               judged=full, note=f"parse, plan, write; the worker then makes the {made} key pairs ({seconds:.1f} s in the pool)"),
        Figure("provisioning: re-apply, no change", unchanged[0].seconds, "s", target=Target(3, at_least=False), judged=full),
        Figure("provisioning: re-apply, 1% changed", one_percent[0].seconds, "s"),
        Figure(f"provisioning: key pairs for {made} departments", made / seconds if made else 0.0, "keys/s",
               "RSA-2048 keys/s on one core", rate, note=f"{seconds:.1f} s in the process pool"),
    ]


def measure(args: argparse.Namespace) -> list[Figure]:
    """Run the benchmark and print its steps; the figures."""
    timings, figures = asyncio.run(run(args))
    width = max(len(t.step) for t in timings)
    print(f"{'step'.ljust(width)}  {'seconds':>8}  notes")
    for t in timings:
        print(f"{t.step.ljust(width)}  {t.seconds:8.3f}  {t.note}")
    return figures


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--departments", type=int, default=FULL_DEPARTMENTS)
    parser.add_argument("--staff", type=int, default=FULL_STAFF)
    parser.add_argument("--areas", type=int, default=20)
    bench_main(parser, measure, quick={"departments": 50, "staff": 2100})


if __name__ == "__main__":
    main()
