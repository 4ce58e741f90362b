"""Dockerfile, compose.yaml and .env.example agree with each other and with the settings.

There is no Docker engine here, so these files are kept correct by reading them.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            rows.append((op.upper(), rest.strip()))
    return rows


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def settings_variables() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "voiceagent").glob("settings*.py"))
    return set(re.findall(r'_var\(\s*"([A-Z_]+)"', text))


def test_it_builds_from_slim_python_311():
    assert dockerfile()[0] == ("FROM", "python:3.11-slim")


def test_it_runs_as_a_non_root_user():
    users = [rest for op, rest in dockerfile() if op == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_it_installs_the_pinned_requirements_before_copying_the_code():
    ops = dockerfile()
    install = next(i for i, (op, rest) in enumerate(ops) if op == "RUN" and "requirements.txt" in rest)
    copy_all = next(i for i, (op, rest) in enumerate(ops) if op == "COPY" and rest.startswith(". "))
    assert install < copy_all


def test_it_serves_the_asgi_app_with_daphne():
    cmd = [rest for op, rest in dockerfile() if op == "CMD"][-1]
    assert "daphne" in cmd and "voiceagent.asgi:application" in cmd
    assert "migrate" in cmd


def test_it_pins_every_requirement():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "==" in line, line


def test_it_composes_web_postgres_and_redis_with_healthchecks():
    services = compose()["services"]
    assert set(services) >= {"web", "postgres", "redis"}
    for name in ("web", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    depends = services["web"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_it_points_web_at_the_composed_database_and_redis():
    services = compose()["services"]
    env = services["web"]["environment"]
    db = urlparse(env["DATABASE_URL"])
    pg = services["postgres"]["environment"]
    assert db.scheme == "postgres" and db.hostname == "postgres"
    assert (db.username, db.password, db.path.lstrip("/")) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        pg["POSTGRES_DB"],
    )
    assert urlparse(env["REDIS_URL"]).hostname == "redis"
    assert "8000:8000" in services["web"]["ports"]
    health = " ".join(services["postgres"]["healthcheck"]["test"])
    assert pg["POSTGRES_USER"] in health


def test_it_sets_only_variables_the_settings_read():
    known = settings_variables()
    env = compose()["services"]["web"]["environment"]
    assert set(env) <= known, set(env) - known


def test_it_documents_every_setting_in_env_example():
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = settings_variables() - documented - {"VOICEAGENT_IGNORE_DOTENV"}
    assert not missing, f"add to .env.example: {sorted(missing)}"
    assert not documented - settings_variables(), "documented but never read"


def test_it_comments_every_variable_in_env_example():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            above = [prev for prev in lines[max(0, i - 3) : i] if prev.strip()]
            assert above and (above[-1].startswith("#") or re.match(r"^[A-Z_]+=", above[-1])), line


def test_it_runs_the_same_command_as_make_serve():
    makefile = (ROOT / "Makefile").read_text()
    assert "daphne" in makefile and "voiceagent.asgi:application" in makefile
    assert "voiceagent.asgi:application" in [rest for op, rest in dockerfile() if op == "CMD"][-1]
