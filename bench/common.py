"""What the benchmarks share: the server under test, its database, process stats, and output.

Each run gets its own database (a SQLite file in a temporary folder, or a PostgreSQL database
created for the run and dropped after it) and its own Daphne process on a free loopback port.
The benchmark process sets up Django on the same database, so it can create the calls and
read back the timings the pipeline stored on each Message.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_BENCH_URL = "redis://127.0.0.1:6379/14"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- the database and the environment ----------------------------------------------------------


@dataclass
class BenchEnv:
    """The environment shared by the benchmark process and its server."""

    services: bool  # PostgreSQL + channels-redis instead of SQLite + the in-memory layer
    port: int
    workdir: Path
    values: dict[str, str] = field(default_factory=dict)
    pg_database: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        return "postgres+redis" if self.services else "sqlite+memory"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(*, services: bool, overrides: dict[str, str]) -> BenchEnv:
    """Make the run's database, put its settings in os.environ, set Django up and migrate.

    Call before anything imports Django models; `teardown()` drops what this made.
    """
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="voiceagent-bench-"))
    bench = BenchEnv(services=services, port=port, workdir=workdir)
    values = {
        "DJANGO_SETTINGS_MODULE": "voiceagent.settings",
        "VOICEAGENT_IGNORE_DOTENV": "1",
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "PUBLIC_BASE_URL": bench.base_url,
        "DEBUG": "false",
        "SIMULATED_AUTH_TOKEN": "",
        # Offline: a benchmark never reaches Twilio or a cloud provider.
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "TWILIO_PHONE_NUMBER": "",
        "OPENAI_API_KEY": "",
        "DEEPGRAM_API_KEY": "",
        "ELEVENLABS_API_KEY": "",
        "STT_PROVIDER": "local",
        "TTS_PROVIDER": "local",
        "LLM_PROVIDER": "offline",
        "PROVIDER_OVERRIDES": "",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        "SQLITE_PATH": str(workdir / "bench.sqlite3"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    if services:
        bench.pg_database = f"voiceagent_bench_{os.getpid()}"
        _postgres(f'DROP DATABASE IF EXISTS "{bench.pg_database}"', f'CREATE DATABASE "{bench.pg_database}"')
        values["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{bench.pg_database}"
        values["REDIS_URL"] = REDIS_BENCH_URL
    values.update(overrides)
    bench.values = values
    os.environ.update(values)
    sys.path.insert(0, str(ROOT))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return bench


def teardown(bench: BenchEnv) -> None:
    from django.db import connections

    connections.close_all()
    if bench.pg_database:
        _postgres(f'DROP DATABASE IF EXISTS "{bench.pg_database}" WITH (FORCE)')


def _postgres(*statements: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


# --- the server under test ----------------------------------------------------------------------


class Server:
    """`daphne voiceagent.asgi:application` on the run's port, in its own process."""

    def __init__(self, bench: BenchEnv) -> None:
        self.bench = bench
        self.log_path = bench.workdir / "daphne.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        env = {**os.environ, **self.bench.values}
        command = [
            sys.executable, "-m", "daphne", "-v", "0",
            "-b", "127.0.0.1", "-p", str(self.bench.port), "voiceagent.asgi:application",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.bench.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"daphne did not answer within {timeout} s:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@dataclass(frozen=True)
class ProcSample:
    at: float
    cpu_s: float  # user + system CPU time of the process, all threads
    rss_kb: int


def proc_sample(pid: int) -> ProcSample:
    """CPU time and resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    # Fields after the command name: state is [0]; utime and stime are [11] and [12]; rss [21].
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return ProcSample(at=time.monotonic(), cpu_s=cpu, rss_kb=int(fields[21]) * PAGE_KB)


def cpu_percent(first: ProcSample, last: ProcSample) -> float:
    """Average CPU use between two samples, in % of one core."""
    wall = last.at - first.at
    return round(100 * (last.cpu_s - first.cpu_s) / wall, 1) if wall > 0 else 0.0


# --- figures and output -------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * fraction)
    return ordered[int(rank) - 1]


def summary(values: Iterable[float]) -> dict[str, float | int]:
    data = [float(v) for v in values]
    if not data:
        return {"n": 0}
    return {
        "n": len(data),
        "p50": round(percentile(data, 0.50), 1),
        "p95": round(percentile(data, 0.95), 1),
        "max": round(max(data), 1),
    }


def machine() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # Other work on the machine skews every figure: say how busy it was.
        "load_average_1m": round(load1, 2),
        "load_average_5m": round(load5, 2),
    }


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (it reads as plain text too)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:g}"  # NaN: no data
    return str(value)


def progress(text: str) -> None:
    """One status line on stderr, rewritten in place."""
    sys.stderr.write(f"\r\033[K{text}")
    sys.stderr.flush()


def progress_done() -> None:
    sys.stderr.write("\r\033[K")
    sys.stderr.flush()


def write_results(name: str, report: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
