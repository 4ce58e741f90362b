"""`manage.py place_call`: bad input is one clear line; a call prints live and sums up."""

from __future__ import annotations

import wave
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calls import services
from calls.models import Call, Status
from telephony import playback
from tests.telephony.twilio_fakes import FakeTwilioHttp

NUMBER = "+12025550143"


def _run(*args: str) -> str:
    out = StringIO()
    call_command("place_call", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["12345"], "'12345' is not a"),
        (["+15555550123"], "not a valid phone number"),
        ([NUMBER, "--mode", "scripted"], "message is required for scripted calls"),
        ([NUMBER, "--persona", "chatty"], "unknown persona 'chatty'"),
        ([NUMBER, "--text", "hi", "--wav", "x.wav"], "--text runs without audio"),
        ([NUMBER, "--speed", "0"], "--speed must be between"),
    ],
)
def test_it_refuses_bad_input_in_one_line(args, message):
    with pytest.raises(CommandError, match=message) as caught:
        _run(*args)
    assert caught.value.returncode == 2
    assert "\n" not in str(caught.value)
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_number_on_the_do_not_call_list():
    services.do_not_call_add(number=NUMBER, reason="asked")
    with pytest.raises(CommandError, match="on the do-not-call list"):
        _run(NUMBER, "--simulate")


@pytest.mark.django_db
def test_it_fails_with_a_non_zero_code_when_twilio_refuses_the_call(settings, monkeypatch):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "token"
    settings.TWILIO_PHONE_NUMBER, settings.TWILIO_CONFIGURED = "+12025550100", True
    http = FakeTwilioHttp(answers=[(400, {"status": 400, "code": 21215, "message": "Permission denied"})])
    monkeypatch.setattr("telephony.lines.twilio_line.TwilioHttpClient", lambda **kw: http)
    with pytest.raises(CommandError, match="Twilio rejected the call: .*Permission denied") as caught:
        _run(NUMBER)
    assert caught.value.returncode == 1
    assert Call.objects.get().status == Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_text_only_call_from_typed_lines():
    out = _run(NUMBER, "--text", "yes sure", "no thanks")
    assert "caller  yes sure" in out
    assert "Status      completed (end reason: not_interested)" in out
    assert "Funnel path INTRO → QUALIFY → END" in out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_places_a_simulated_call_prints_it_live_and_saves_the_audio(settings, monkeypatch, tmp_path):
    monkeypatch.setattr(playback, "LEAD_MS", 600_000)
    wav = tmp_path / "call.wav"
    out = _run(
        NUMBER, "--simulate", "--say", "No thanks, I'm not interested.", "--speed", "5", "--wav", str(wav)
    )

    assert "Simulated line, callee persona: custom" in out
    assert "· ringing" in out
    assert "(callee speaks) No thanks, I'm not interested." in out
    assert "agent   INTRO answered" in out and "tts " in out and "turn " in out
    assert "caller  INTRO not_interested" in out and "(stt " in out
    assert "Status      completed (end reason: not_interested)" in out
    assert "Funnel path INTRO → END" in out
    assert "turn time p50" in out
    assert "make serve" in out and "/admin/calls/call/" in out
    with wave.open(str(wav)) as audio:
        assert (audio.getnchannels(), audio.getframerate(), audio.getsampwidth()) == (2, 8000, 2)
        assert audio.getnframes() > 8000 * 3


def test_it_exits_cleanly_as_a_process(tmp_path):
    """As a user runs it: a separate process, its own database, exit code 0 and the summary."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "db.sqlite3"), "VOICEAGENT_IGNORE_DOTENV": "1"}
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=root, env=env, check=True, timeout=120)
    result = subprocess.run(
        [*manage, "place_call", "+12025550143", "--text", "no thanks I'm not interested"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not_interested" in result.stdout
    assert "Traceback" not in result.stderr and "terminate called" not in result.stderr
