"""What the benchmarks share: figure records and their table, the command line, processes and CPU time.

Every bench exposes ``measure(args) -> list[Figure]`` and runs through ``bench_main``, which adds
``--quick`` (smaller sizes) and ``--json FILE`` (the figures as data, read by bench/table.py) and
prints the figures after the bench's own output. A figure is compared with a baseline measured in
the same run where one exists; its target is either on the value or on that ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fedi.embedded import start_embedded_postgres  # noqa: E402

FEDI = str(Path(sys.executable).with_name("fedi"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Target:
    """A bound on a figure's value (or on its ratio to the baseline): ``>= bound`` or ``<= bound``."""

    bound: float
    at_least: bool
    on_ratio: bool = False

    def describe(self, unit: str) -> str:
        """The target as the table shows it."""
        sign = ">=" if self.at_least else "<="
        return f"ratio {sign} {self.bound:g}" if self.on_ratio else f"{sign} {self.bound:,g} {unit}"


@dataclass(frozen=True)
class Figure:
    """One measured figure, its same-run baseline and its target.

    ``judged`` is False when the target applies only at the full sizes and the run was smaller
    (``--quick``): the target is shown but neither met nor missed.
    """

    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: Target | None = None
    judged: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Value divided by the baseline, when there is one."""
        if self.baseline_value is None or self.baseline_value == 0:
            return None
        return self.value / self.baseline_value

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target or when not judged."""
        if self.target is None or not self.judged:
            return None
        measured = self.ratio if self.target.on_ratio else self.value
        if measured is None:
            return False
        return measured >= self.target.bound if self.target.at_least else measured <= self.target.bound

    def to_json(self) -> dict[str, Any]:
        """The figure as plain data (with its ratio and verdict)."""
        return {**asdict(self), "ratio": self.ratio, "met": self.met}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        """The figure written by ``to_json``."""
        target = Target(**data["target"]) if data.get("target") else None
        fields = {k: v for k, v in data.items() if k not in ("ratio", "met", "target")}
        return cls(**fields, target=target)


def number(value: float | None, unit: str = "") -> str:
    """A value as the table shows it: thousands separated, few decimals."""
    if value is None:
        return "-"
    digits = 0 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def verdict(figure: Figure) -> str:
    """``met``, ``MISSED``, ``(quick)`` or ``-``."""
    if figure.target is None:
        return "-"
    if not figure.judged:
        return "(quick)"
    return "met" if figure.met else "MISSED"


def format_table(figures: Sequence[Figure], notes: bool = True) -> str:
    """The figures as one aligned text table (figure, value, baseline, ratio, target, met?)."""
    header = ("figure", "value", "baseline (same run)", "ratio", "target", "met?")
    rows = [header]
    for f in figures:
        baseline = f"{f.baseline} {number(f.baseline_value)}" if f.baseline else "-"
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else "-"
        target = f.target.describe(f.unit) if f.target else "-"
        rows.append((f.name, number(f.value, f.unit), baseline, ratio, target, verdict(f)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 3}
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    if notes:
        lines += [f"  {f.name}: {f.note}" for f in figures if f.note]
    return "\n".join(lines)


def bench_main(
    parser: argparse.ArgumentParser, measure: Callable[[argparse.Namespace], list[Figure]],
    quick: dict[str, Any], argv: Sequence[str] | None = None,
) -> list[Figure]:
    """Parse the arguments (``--quick`` switches to the ``quick`` defaults), measure, print and save the figures."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs, to try the bench")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    if "--quick" in argv:
        parser.set_defaults(**quick)
    args = parser.parse_args(argv)
    figures = measure(args)
    print()
    print(format_table(figures), flush=True)
    if args.json:
        args.json.write_text(json.dumps([f.to_json() for f in figures], indent=1), encoding="utf-8")
    return figures


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def embedded_database() -> Iterator[tuple[Path, str]]:
    """A temporary directory with a fresh embedded PostgreSQL in it: (directory, database URL)."""
    with tempfile.TemporaryDirectory(prefix="fedi-bench-") as directory:
        url, server = start_embedded_postgres(Path(directory))
        try:
            yield Path(directory), url
        finally:
            server.cleanup()


def fedi_environment(directory: Path, database_url: str, domain: str, secret: str, **extra: str) -> dict[str, str]:
    """This process's environment without fedi settings, plus the bench instance's."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEDI_") and k != "DATABASE_URL"}
    return {**environ, "DATABASE_URL": database_url, "FEDI_DOMAIN": domain, "FEDI_SECRET_KEY": secret,
            "FEDI_DATA_DIR": str(directory), **extra}


async def wait_until_up(url: str, process: asyncio.subprocess.Process, seconds: float = 60) -> None:
    """Poll ``url`` until it answers 200, failing early if ``process`` exits."""
    async with aiohttp.ClientSession() as http:
        for _ in range(int(seconds * 10)):
            if process.returncode is not None:
                raise RuntimeError(f"the server exited with status {process.returncode} before answering {url}")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"no answer from {url} after {seconds:.0f} s")


@asynccontextmanager
async def running(*command: str, env: dict[str, str], ready_url: str | None = None,
                  ready_line: str | None = None) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``command`` until the block ends (SIGINT, then SIGKILL after 30 s); ready when ``ready_url``
    answers 200 or ``ready_line`` appears in its output. Its output is discarded once ready."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    output: list[bytes] = []
    seen = asyncio.Event()

    async def drain() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            if not seen.is_set():
                output.append(line)
                if ready_line is not None and ready_line.encode() in line:
                    seen.set()

    reader = asyncio.create_task(drain())
    try:
        try:
            if ready_url is not None:
                await wait_until_up(ready_url, process)
            if ready_line is not None:
                await asyncio.wait_for(seen.wait(), 60)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{' '.join(command)} did not start: {exc}\n{b''.join(output).decode()[-3000:]}") from exc
        seen.set()
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        await reader


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc/<pid>/task/*/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of one process."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (shared pages divided among their users)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def postgres_pids(directory: Path) -> list[int]:
    """The embedded PostgreSQL's postmaster (under ``directory``) and its backends."""
    postmaster = int((directory / "postgres" / "postmaster.pid").read_text().split()[0])
    return descendants(postmaster)


@dataclass
class CpuMeter:
    """CPU seconds used by groups of processes between ``start()`` and ``stop()``."""

    groups: dict[str, Callable[[], list[int]]]
    used: dict[str, float] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        """Remember the CPU time used so far."""
        self._before = {name: cpu_seconds(pids()) for name, pids in self.groups.items()}

    def stop(self) -> dict[str, float]:
        """CPU seconds each group used since ``start()``."""
        self.used = {name: cpu_seconds(pids()) - self._before[name] for name, pids in self.groups.items()}
        return self.used


@dataclass(frozen=True)
class Load:
    """One GET sent again and again on ``connections`` keep-alive connections: warm up, then measure."""

    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 16
    warmup: float = 1.0
    seconds: float = 5.0
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class LoadResult:
    """Answers completed in the measured window, by status, and the client's own CPU time in it."""

    requests: int
    seconds: float
    statuses: dict[int, int]
    client_cpu: float

    @property
    def rate(self) -> float:
        """Answers per second."""
        return self.requests / self.seconds


class _Tally:
    """Completed answers by status, shared by the connections."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.stopping = False
        self.lost = 0

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class _Connection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection that sends its request again as soon as each answer is complete."""

    def __init__(self, request: bytes, tally: _Tally, closed: asyncio.Future[None]) -> None:
        self.request, self.tally, self.closed = request, tally, closed
        self.buffer = bytearray()
        self.left: int | None = None  # body bytes still expected; None while reading the head
        self.chunked = False
        self.status = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.tally.stopping:
            self.tally.lost += 1
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while self._answer_complete():
            self.tally.count(self.status)
            if self.tally.stopping:
                self.transport.close()
                return
            self.transport.write(self.request)

    def _answer_complete(self) -> bool:
        """Consume one whole answer from the buffer; False when more bytes are needed."""
        if self.left is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            del self.buffer[: end + 4]
            self.status = int(head[0].split(" ", 2)[1])
            headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
            self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            self.left = 0 if self.chunked else int(headers.get("content-length", "0"))
        if self.chunked:
            return self._chunks_complete()
        if len(self.buffer) < self.left:
            return False
        del self.buffer[: self.left]
        self.left = None
        return True

    def _chunks_complete(self) -> bool:
        """Consume chunks; True once the last (empty) chunk and its CRLF are in."""
        while True:
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(self.buffer[:line_end]).split(b";")[0], 16)
            if len(self.buffer) < line_end + 2 + size + 2:
                return False
            del self.buffer[: line_end + 2 + size + 2]
            if size == 0:
                self.left = None
                return True


async def _drive(load: Load, started: Callable[[], None]) -> LoadResult:
    """Run one load: connect, warm up, measure, close."""
    loop = asyncio.get_running_loop()
    lines = [f"GET {load.path} HTTP/1.1", f"Host: {load.headers.get('Host', f'{load.host}:{load.port}')}"]
    lines += [f"{name}: {value}" for name, value in load.headers.items() if name.lower() != "host"]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    tally = _Tally()
    closed: list[asyncio.Future[None]] = []
    for _ in range(load.connections):
        future: asyncio.Future[None] = loop.create_future()
        closed.append(future)
        await loop.create_connection(lambda f=future: _Connection(request, tally, f), load.host, load.port)  # type: ignore[misc]
    await asyncio.sleep(load.warmup)
    tally.statuses = {}
    started()
    cpu, begin = time.process_time(), time.perf_counter()
    await asyncio.sleep(load.seconds)
    statuses, elapsed, used = dict(tally.statuses), time.perf_counter() - begin, time.process_time() - cpu
    tally.stopping = True
    await asyncio.wait(closed, timeout=10)
    if tally.lost:
        raise RuntimeError(f"{tally.lost} connection(s) to {load.path} closed by the server during the run")
    return LoadResult(sum(statuses.values()), elapsed, statuses, used)


def _client_process(pipe: Connection) -> None:
    """Child process: run each Load received on ``pipe`` and send back "started" then its LoadResult."""
    while (load := pipe.recv()) is not None:
        try:
            pipe.send(asyncio.run(_drive(load, lambda: pipe.send("started"))))
        except (OSError, RuntimeError, ValueError) as exc:
            pipe.send(exc)


class LoadClient:
    """A load-generating process of its own, so it does not share the measuring process's core time."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_client_process, args=(child,), daemon=True)

    def __enter__(self) -> LoadClient:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pipe.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()

    async def run(self, load: Load, meter: CpuMeter | None = None) -> LoadResult:
        """Run ``load``; ``meter`` (if given) measures the servers' CPU over the same window."""
        self.pipe.send(load)
        first = await asyncio.to_thread(self.pipe.recv)
        if isinstance(first, Exception):
            raise RuntimeError(f"load client: {first}")
        if meter is not None:
            meter.start()
        result = await asyncio.to_thread(self.pipe.recv)
        if meter is not None:
            meter.stop()
        if isinstance(result, Exception):
            raise RuntimeError(f"load client: {result}")
        return result  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Throughput:
    """The best rate over the rounds, with the servers' CPU milliseconds per answer and the client's core share in that round."""

    rate: float
    cpu_ms: dict[str, float]
    client_share: float

    def describe(self) -> str:
        """CPU per answer, as printed in notes."""
        cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in self.cpu_ms.items())
        return f"CPU ms/answer: {cpu}; client used {self.client_share:.0%} of a core"


async def throughputs(loads: dict[str, tuple[Load, CpuMeter]], rounds: int) -> dict[str, Throughput]:
    """Run every load once per round, interleaved (so a busy moment hits all alike); keep each one's best round."""
    best: dict[str, Throughput] = {}
    with LoadClient() as client:
        for round_number in range(1, rounds + 1):
            for name, (load, meter) in loads.items():
                result = await client.run(load, meter)
                failed = {status: n for status, n in result.statuses.items() if not 200 <= status < 300}
                if failed or not result.requests:
                    raise RuntimeError(f"{name}: GET {load.path} answered {result.statuses}")
                measured = Throughput(
                    result.rate, {group: 1000 * used / result.requests for group, used in meter.used.items()},
                    result.client_cpu / result.seconds,
                )
                print(f"  round {round_number}  {name:<28} {result.rate:>8,.0f} answers/s  {measured.describe()}", flush=True)
                if name not in best or measured.rate > best[name].rate:
                    best[name] = measured
    return best


@asynccontextmanager
async def fedi_server(directory: Path, database_url: str, domain: str, secret: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``fedi serve --no-worker`` on a free loopback port, as a real process: (process, port)."""
    port = free_port()
    env = fedi_environment(directory, database_url, domain, secret)
    async with running(FEDI, "serve", "--no-worker", "--port", str(port), env=env,
                       ready_url=f"http://127.0.0.1:{port}/.well-known/nodeinfo") as process:
        yield process, port


@asynccontextmanager
async def hello_world_server() -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """The hello-world baseline server on a free loopback port: (process, port)."""
    port = free_port()
    async with running(*hello_world_command(port), env=dict(os.environ), ready_url=f"http://127.0.0.1:{port}/") as process:
        yield process, port


# The baseline app, run with ``python -c`` so that its process imports nothing but what it needs.
# uvicorn flags as in fedi.cli.server.serve (one process), with its event loop and HTTP parser (LOOP, HTTP).
HELLO_WORLD = """
import logging, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def hello(request):
    return PlainTextResponse("Hello, world!")

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = Starlette(routes=[Route("/", hello)])
config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), proxy_headers=False, server_header=False,
                        log_config=None, access_log=False, loop="uvloop", http="httptools")
uvicorn.Server(config).run()
"""


def hello_world_command(port: int) -> list[str]:
    """The command serving the hello-world baseline on ``port``."""
    return [sys.executable, "-c", HELLO_WORLD, str(port)]
