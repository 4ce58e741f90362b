from __future__ import annotations

import functools
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from calls import services as call_services
from calls.models import Call, Role, Status
from funnel.models import Script
from telephony import softphone
from telephony.audio import mulaw_to_pcm16, pcm16_to_mulaw
from telephony.tokens import BadStreamToken, stream_token_check
from tests.telephony.browser.chromium import CHROMIUM, launch_args, require_chromium

STATIC = Path(softphone.__file__).parent / "static" / "softphone"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("staff", password="pw-123456", is_staff=True)


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _create(client: Client, **body) -> dict:
    response = client.post("/softphone/calls", data=json.dumps(body), content_type="application/json")
    return {"status": response.status_code, **response.json()}


# --- the views ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_redirects_anonymous_visitors_to_the_admin_login(client):
    response = client.get("/softphone/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/softphone/")


@pytest.mark.django_db
def test_it_refuses_the_call_endpoints_to_non_staff_users(client):
    user = get_user_model().objects.create_user("someone", password="pw-123456")
    client.force_login(user)
    assert client.get("/softphone/").status_code == 302
    response = client.post("/softphone/calls", data="{}", content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "staff login required"}
    assert Call.objects.count() == 0


@pytest.mark.django_db
def test_it_renders_the_page_with_every_script_and_the_default_selected(staff_client):
    Script.objects.create(name="Solar", company="Brightside Solar", is_default=True)
    Script.objects.create(name="Windows", company="ClearView Glass")
    response = staff_client.get("/softphone/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Solar — Brightside Solar</option>" in html
    assert "Windows — ClearView Glass</option>" in html
    default = Script.objects.get(name="Solar")
    assert f'value="{default.pk}" selected' in html
    assert 'data-csrf-token="' in html
    assert "softphone/softphone.js" in html and "softphone/mic-worklet.js" in html


@pytest.mark.django_db
def test_it_creates_a_ringing_softphone_call_with_a_stream_token(staff_client):
    body = _create(staff_client, mode="funnel")
    assert body["status"] == 201
    call = Call.objects.get(sid=body["call_sid"])
    assert call.line == "softphone"
    assert call.direction == "outbound"
    assert call.to_number == softphone.SOFTPHONE_NUMBER
    assert call.status == Status.RINGING
    assert call.script is not None  # a funnel call follows the default script
    assert body["stream_url"] == "ws://testserver/twilio/stream"
    start = body["start"]
    assert start["callSid"] == call.provider_sid and call.provider_sid.startswith("CA")
    assert start["customParameters"] == {"call_sid": call.sid, "token": body["token"]}
    stream_token_check(token=body["token"], call_sid=call.sid)
    with pytest.raises(BadStreamToken):
        stream_token_check(token=body["token"], call_sid="CA" + "0" * 32)


@pytest.mark.django_db
def test_it_creates_an_inbound_interactive_call_from_the_softphone_number(staff_client):
    body = _create(staff_client, mode="interactive", direction="inbound", objective="Ask about lunch")
    call = Call.objects.get(sid=body["call_sid"])
    assert (call.direction, call.mode, call.objective) == ("inbound", "interactive", "Ask about lunch")
    assert call.from_number == softphone.SOFTPHONE_NUMBER
    assert call.caller_number == softphone.SOFTPHONE_NUMBER


@pytest.mark.django_db
def test_it_calls_the_softphone_even_after_it_asked_not_to_be_called(staff_client):
    call_services.do_not_call_add(number=softphone.SOFTPHONE_NUMBER, reason="tested the do-not-call path")
    assert _create(staff_client, mode="funnel")["status"] == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "scripted", "message": "  "}, "message"),
        ({"mode": "karaoke"}, "mode"),
        ({"mode": "funnel", "direction": "sideways"}, "direction"),
        ({"mode": "funnel", "script_id": 999999}, "script_id"),
        ({"mode": "funnel", "script_id": "abc"}, "script_id"),
        ({"mode": "funnel", "script_id": 10**30}, "script_id"),
    ],
)
def test_it_rejects_bad_input_by_field(staff_client, body, field):
    result = _create(staff_client, **body)
    assert result["status"] == 400
    assert result["success"] is False and field in result["fields"]
    assert Call.objects.count() == 0


@pytest.mark.django_db
def test_it_rejects_a_body_that_is_not_json(staff_client):
    response = staff_client.post("/softphone/calls", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"body": "is not valid JSON"}


@pytest.mark.django_db
def test_it_accepts_a_form_encoded_body_too(staff_client):
    response = staff_client.post("/softphone/calls", data={"mode": "scripted", "message": "Dinner is ready!"})
    assert response.status_code == 201
    call = Call.objects.get(sid=response.json()["call_sid"])
    assert (call.mode, call.message, call.line) == ("scripted", "Dinner is ready!", "softphone")


@pytest.mark.django_db
def test_it_requires_the_csrf_token_to_start_a_call(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post("/softphone/calls", data="{}", content_type="application/json")
    assert response.status_code == 403
    page = client.get("/softphone/")
    token = re.search(r'data-csrf-token="([^"]+)"', page.content.decode()).group(1)
    response = client.post(
        "/softphone/calls", data="{}", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_it_reports_the_transcript_with_state_and_timings(staff_client):
    call = Call.objects.get(sid=_create(staff_client, mode="funnel")["call_sid"])
    call_services.message_append(
        call=call, role=Role.ASSISTANT, text="Hi, this is Alex.", funnel_state="INTRO"
    )
    call_services.message_append(
        call=call, role=Role.USER, text="Sure.", intent="interested", funnel_state="INTRO", stt_ms=210
    )
    call_services.call_set_funnel_state(call=call, state="QUALIFY")
    response = staff_client.get(f"/softphone/calls/{call.sid}/transcript")
    assert response.status_code == 200
    data = response.json()
    assert data["call"]["funnel_state"] == "QUALIFY" and data["call"]["status"] == "ringing"
    assert [(m["seq"], m["role"], m["text"]) for m in data["messages"]] == [
        (1, "assistant", "Hi, this is Alex."),
        (2, "user", "Sure."),
    ]
    assert data["messages"][1]["stt_ms"] == 210 and data["messages"][1]["intent"] == "interested"
    assert staff_client.get("/softphone/calls/CAnotacall000000/transcript").status_code == 404


@pytest.mark.django_db
def test_it_cancels_a_call_whose_stream_never_started(staff_client):
    sid = _create(staff_client, mode="funnel")["call_sid"]
    response = staff_client.post(f"/softphone/calls/{sid}/end")
    assert response.status_code == 200
    call = Call.objects.get(sid=sid)
    assert (call.status, call.end_reason) == (Status.CANCELED, "canceled")
    assert response.json()["call"]["is_terminal"] is True


@pytest.mark.django_db
def test_it_leaves_an_answered_call_for_the_stream_to_finish(staff_client):
    sid = _create(staff_client, mode="funnel")["call_sid"]
    call = Call.objects.get(sid=sid)
    call_services.call_set_status(call=call, status=Status.IN_PROGRESS)
    staff_client.post(f"/softphone/calls/{sid}/end")
    call.refresh_from_db()
    assert call.status == Status.IN_PROGRESS and call.end_reason == ""


@pytest.mark.django_db
def test_it_ends_only_softphone_calls(staff_client):
    other = call_services.call_create(to_number="+12025550188").call
    assert staff_client.post(f"/softphone/calls/{other.sid}/end").status_code == 404
    other.refresh_from_db()
    assert other.status == Status.QUEUED


# --- the page's audio code, run in Chromium ------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    """The softphone's static files on 127.0.0.1 (a secure context, as the page needs)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def playwright():
    """One Playwright driver for the module (a second sync one cannot run in the same thread)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def chromium_page(playwright, static_server):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=launch_args())
    page = browser.new_page()
    page.goto(f"{static_server}/g711.js")  # any same-origin document will do
    yield page
    browser.close()


def test_it_encodes_and_decodes_mulaw_in_the_browser_exactly_like_audio_py(chromium_page):
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    result = chromium_page.evaluate(
        """async (samples) => {
            const g711 = await import("./g711.js");
            const encoded = samples.map((s) => g711.encodeInt16(s));
            const all = Uint8Array.from({ length: 256 }, (_, i) => i);
            return { encoded, decoded: Array.from(g711.mulawDecode(all), (v) => Math.round(v * 32768)) };
        }""",
        samples.tolist(),
    )
    assert bytes(result["encoded"]) == pcm16_to_mulaw(samples)
    assert result["decoded"] == mulaw_to_pcm16(bytes(range(256))).tolist()


def _tone_through_resampler(page, *, in_rate: int, out_rate: int, hz: float) -> np.ndarray:
    # Fed in 128-sample blocks, as the audio thread delivers them.
    out = page.evaluate(
        """async ([inRate, outRate, hz]) => {
            const { StreamResampler } = await import("./resampler.js");
            const r = new StreamResampler(inRate, outRate);
            const input = Float32Array.from(
                { length: inRate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / inRate)
            );
            const out = [];
            for (let i = 0; i < input.length; i += 128) out.push(...r.process(input.subarray(i, i + 128)));
            return out;
        }""",
        [in_rate, out_rate, hz],
    )
    return np.asarray(out, dtype=np.float64)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(48000, 8000), (44100, 8000), (8000, 44100), (8000, 48000)]
)
def test_it_resamples_speech_band_audio_at_full_level(chromium_page, in_rate, out_rate):
    out = _tone_through_resampler(chromium_page, in_rate=in_rate, out_rate=out_rate, hz=1000)
    assert abs(len(out) - out_rate) <= out_rate * 0.01  # one second in, one second out
    steady = out[len(out) // 4 : -len(out) // 4]
    assert _rms(steady) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(len(steady))))
    peak_hz = np.argmax(spectrum) * out_rate / len(steady)
    assert peak_hz == pytest.approx(1000, abs=out_rate / len(steady) * 2)


def test_it_filters_out_what_8_khz_cannot_carry_instead_of_aliasing_it(chromium_page):
    # 6 kHz would fold back to 2 kHz, in the middle of speech, without the low-pass.
    out = _tone_through_resampler(chromium_page, in_rate=48000, out_rate=8000, hz=6000)
    steady = out[len(out) // 4 : -len(out) // 4]
    assert _rms(steady) < 0.5 / np.sqrt(2) * 0.01  # at least 40 dB down


def test_it_echoes_a_mark_after_playback_and_releases_pending_marks_on_clear(chromium_page):
    result = chromium_page.evaluate(
        """async () => {
            const { Player } = await import("./player.js");
            const ctx = new AudioContext();
            await ctx.resume();
            const player = new Player(ctx, ctx.destination);
            const echoed = [];
            const t0 = ctx.currentTime;
            const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
            player.enqueue(new Uint8Array(2400).fill(0x80));  // 300 ms of agent audio
            player.mark("a", (name) => echoed.push([name, ctx.currentTime - t0]));
            await sleep(100);
            const beforePlayed = echoed.length;
            await sleep(500);
            player.enqueue(new Uint8Array(16000).fill(0x80));  // 2 s, then the caller barges in
            player.mark("b", (name) => echoed.push([name, ctx.currentTime - t0]));
            const speakingBefore = player.speaking;
            player.clear();
            const result = { beforePlayed, echoed, speakingBefore, speakingAfter: player.speaking };
            player.close();
            await ctx.close();
            return result;
        }"""
    )
    assert result["beforePlayed"] == 0
    (a_name, a_at), (b_name, b_at) = result["echoed"]
    assert a_name == "a" and 0.3 <= a_at < 0.6
    assert b_name == "b" and b_at < 1.0  # released at the clear, not after its 2 s of audio
    assert result["speakingBefore"] is True and result["speakingAfter"] is False


# --- whole calls from the browser, through Daphne, the consumer, the pipeline and the funnel --------

CALLER_LINE = "Yes, I am interested."


@pytest.fixture(scope="module")
def daphne_server(tmp_path_factory):
    require_chromium()
    from tests.telephony.browser.server import start_server

    server = start_server(tmp_path_factory.mktemp("softphone-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def phone(playwright, daphne_server, tmp_path_factory):
    """A logged-in staff browser whose fake microphone keeps saying CALLER_LINE."""
    from tests.telephony.browser.caller_audio import caller_wav
    from tests.telephony.browser.server import STAFF_PASSWORD, STAFF_USER

    wav = caller_wav(tmp_path_factory.mktemp("softphone-audio") / "caller.wav", CALLER_LINE)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=launch_args(fake_audio=wav))
    page = browser.new_page(viewport={"width": 1200, "height": 820})
    page.goto(f"{daphne_server.url}/softphone/")
    assert "/admin/login/" in page.url  # staff only
    page.fill("#id_username", STAFF_USER)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/softphone/")
    yield page
    browser.close()


@pytest.fixture
def server_log_on_failure(daphne_server):
    yield
    # Printed only when the test fails (pytest shows captured output then).
    print(daphne_server.log_text()[-8000:])


def _call_row(db_path: Path, sid: str) -> sqlite3.Row:
    with sqlite3.connect(db_path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("select * from calls_call where sid = ?", (sid,)).fetchone()


def _turns(db_path: Path, sid: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "select m.role, m.text from calls_message m join calls_call c on c.id = m.call_id "
            "where c.sid = ? order by m.seq",
            (sid,),
        ).fetchall()
    return [(role, text) for role, text in rows]


@pytest.mark.slow
@pytest.mark.usefixtures("server_log_on_failure")
def test_it_talks_to_the_agent_from_the_browser(phone, daphne_server):
    from playwright.sync_api import expect

    phone.goto(f"{daphne_server.url}/softphone/")
    phone.select_option("#mode", "funnel")
    phone.click("#call-button")
    root = phone.locator("#softphone")
    expect(root).to_have_attribute("data-status", "live", timeout=15000)

    caller = phone.locator("#transcript-body tr.user", has_text=re.compile(r"interest", re.I))
    expect(caller.first).to_be_visible(timeout=30000)
    reply = caller.first.locator("xpath=following-sibling::tr[contains(@class, 'assistant')]")
    expect(reply.first).to_be_visible(timeout=15000)
    expect(phone.locator("#state-badge")).not_to_have_text("—")
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "softphone.png"), full_page=True)

    phone.click("#hangup-button")
    expect(root).to_have_attribute("data-status", "ended", timeout=10000)
    expect(root).to_have_attribute("data-call-status", "completed", timeout=10000)
    expect(phone.locator("#status-detail")).to_contain_text("caller hangup")
    assert int(root.get_attribute("data-frames-sent")) > 100  # > 2 s of microphone
    assert float(root.get_attribute("data-agent-seconds")) > 1.0  # the agent's audio reached the page

    sid = root.get_attribute("data-call-sid")
    call = _call_row(daphne_server.db_path, sid)
    assert (call["line"], call["status"], call["end_reason"]) == ("softphone", "completed", "caller_hangup")
    turns = _turns(daphne_server.db_path, sid)
    said = [i for i, (role, text) in enumerate(turns) if role == "user" and "interest" in text.lower()]
    assert said, turns
    assert any(role == "assistant" and text for role, text in turns[said[0] + 1 :]), turns


@pytest.mark.slow
@pytest.mark.usefixtures("server_log_on_failure")
def test_it_hears_a_scripted_message_and_the_agent_hangs_up(phone, daphne_server):
    from playwright.sync_api import expect

    phone.goto(f"{daphne_server.url}/softphone/")
    phone.select_option("#mode", "scripted")
    phone.fill("#message", "Your order is ready for pickup.")
    phone.click("#call-button")
    root = phone.locator("#softphone")
    # The agent ends the call itself once the message has played out in the page.
    expect(root).to_have_attribute("data-status", "ended", timeout=30000)
    expect(root).to_have_attribute("data-call-status", "completed", timeout=10000)
    expect(phone.locator("#transcript-body tr.assistant").first).to_contain_text("order is ready")
    assert int(root.get_attribute("data-marks-echoed")) >= 1  # played to the end, then the mark went back

    sid = root.get_attribute("data-call-sid")
    call = _call_row(daphne_server.db_path, sid)
    assert (call["status"], call["mode"]) == ("completed", "scripted")
    assert call["end_reason"] != "caller_hangup"
    spoken = [text for role, text in _turns(daphne_server.db_path, sid) if role == "assistant"]
    assert any("order is ready" in text for text in spoken), spoken
