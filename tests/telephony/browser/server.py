"""The real ASGI app under Daphne on 127.0.0.1, with its own SQLite file and a staff user.

pytest-django's live server is WSGI and cannot carry the media-stream WebSocket, so the browser
tests run the app the way production does, in a subprocess.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
STAFF_USER = "softphone-staff"
STAFF_PASSWORD = "softphone-pass-7391"
_SETUP = (
    "import django; django.setup();"
    "from django.core.management import call_command; call_command('migrate', verbosity=0);"
    "from django.contrib.auth import get_user_model;"
    f"get_user_model().objects.create_superuser({STAFF_USER!r}, 'staff@example.test', {STAFF_PASSWORD!r})"
)


@dataclass
class LiveServer:
    url: str
    db_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(*, port: int, db_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.telephony.browser.settings",
            "VOICEAGENT_IGNORE_DOTENV": "1",
            "SQLITE_PATH": str(db_path),
            "DATABASE_URL": "",
            "REDIS_URL": "",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "DEBUG": "0",
            # Offline and local only: a test never reaches a cloud provider or Twilio.
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": "",
            "OPENAI_API_KEY": "",
            "DEEPGRAM_API_KEY": "",
            "ELEVENLABS_API_KEY": "",
            "STT_PROVIDER": "local",
            "TTS_PROVIDER": "local",
            "LLM_PROVIDER": "offline",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_server(workdir: Path, *, timeout: float = 30.0) -> LiveServer:
    port = free_port()
    db_path = workdir / "softphone.sqlite3"
    log_path = workdir / "daphne.log"
    env = server_env(port=port, db_path=db_path)
    subprocess.run([sys.executable, "-c", _SETUP], cwd=ROOT, env=env, check=True, timeout=timeout)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "voiceagent.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    server = LiveServer(url=f"http://127.0.0.1:{port}", db_path=db_path, log_path=log_path, process=process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"daphne did not answer within {timeout} s:\n{server.log_text()}")
