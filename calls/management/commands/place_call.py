"""Place a call and follow it live: Twilio when configured, else the simulated line.

python manage.py place_call +12025550143 --simulate --persona interested --wav call.wav
python manage.py place_call +12025550143 --text "yes sure" "we own it" "sounds good"
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from calls import selectors, services
from calls.models import Call, Mode, Status
from calls.phone import InvalidPhoneNumber
from telephony.lines import LineError, get_line
from telephony.lines.personas import PERSONAS, UnknownPersona, get_persona
from telephony.lines.report import format_message, summarize

POLL_S = 0.2
RINGING_NOTE_EVERY_S = 5.0
NO_ANSWER_HINT_S = 30.0
BAD_INPUT = 2


class Command(BaseCommand):
    help = "Place a call (Twilio when configured, else simulated) and print its transcript live."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", help="the number to call, any format (E.164 preferred)")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.FUNNEL)
        parser.add_argument("--message", default="", help="what a scripted call says (required for scripted)")
        parser.add_argument("--objective", default="", help="what an interactive call tries to achieve")
        parser.add_argument("--greeting", default="", help="the first line of an interactive call")
        parser.add_argument("--simulate", action="store_true", help="use the simulated line even with Twilio")
        parser.add_argument(
            "--persona",
            default=None,
            help=f"who answers a simulated call: {', '.join(PERSONAS)} (default SIMULATED_PERSONA)",
        )
        parser.add_argument(
            "--say",
            action="append",
            default=[],
            metavar="LINE",
            help="a simulated callee's line (repeatable)",
        )
        parser.add_argument("--wav", metavar="PATH", help="save the simulated call's audio (stereo, 8 kHz)")
        parser.add_argument("--speed", type=float, default=None, help="simulated clock speed (default 1)")
        parser.add_argument(
            "--server", metavar="URL", help="simulate against a running server, not in-process"
        )
        parser.add_argument(
            "--text",
            nargs="+",
            action="extend",
            metavar="LINE",
            help="no audio: run the conversation on these typed caller lines",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # A server warms the models when it starts; this one-call process loads them as its
        # call needs them (and a text call never does).
        settings.WARM_MODELS = False
        if options["verbosity"] < 2:
            # The transcript is the output; JSON log lines (-v 2 shows them) would bury it.
            # Loading the ASGI app first: it runs django.setup() again, which re-applies LOGGING.
            import voiceagent.asgi  # noqa: F401

            logging.getLogger("voiceagent").setLevel(logging.WARNING)
        self._check_options(options)
        call = self._create(options)
        self.stdout.write(f"Call {call.sid} to {call.to_number} ({call.mode})")
        if options["text"]:
            self._run_text(call, options["text"])
        else:
            self._run_audio(call, options)
        self._finish(call)

    # --- input ------------------------------------------------------------------------------

    def _check_options(self, options: dict[str, Any]) -> None:
        simulated_only = options["simulate"] or options["persona"] or options["say"] or options["wav"]
        if options["text"] and (simulated_only or options["server"]):
            raise CommandError(
                "--text runs without audio: drop --simulate/--persona/--say/--wav", returncode=BAD_INPUT
            )
        if options["speed"] is not None and not 0.1 <= options["speed"] <= 20:
            raise CommandError("--speed must be between 0.1 and 20", returncode=BAD_INPUT)
        if options["persona"] or options["say"]:
            try:
                get_persona(options["persona"] or "", say=options["say"])
            except UnknownPersona as exc:
                raise CommandError(str(exc), returncode=BAD_INPUT) from None
        self.simulate = bool(options["simulate"] or options["server"] or not settings.TWILIO_CONFIGURED)
        if not self.simulate and (options["persona"] or options["say"] or options["wav"]):
            raise CommandError(
                "--persona, --say and --wav need the simulated line: add --simulate", returncode=BAD_INPUT
            )

    def _create(self, options: dict[str, Any]) -> Call:
        try:
            return services.call_create(
                to_number=options["number"],
                mode=options["mode"],
                message=options["message"],
                objective=options["objective"],
                greeting=options["greeting"],
            ).call
        except InvalidPhoneNumber as exc:
            raise CommandError(f"{options['number']!r} is {exc}", returncode=BAD_INPUT) from None
        except services.CallRejected as exc:
            raise CommandError(f"{exc.field} {exc.reason}", returncode=BAD_INPUT) from None

    # --- running the call -------------------------------------------------------------------

    def _run_text(self, call: Call, lines: list[str]) -> None:
        from funnel.text_driver import run_text_call

        def show(speaker: str, text: str) -> None:
            self.stdout.write(f"  {speaker:<6}  {text}")

        asyncio.run(run_text_call(call, lines, on_line=show))

    def _run_audio(self, call: Call, options: dict[str, Any]) -> None:
        events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.recording = None
        if self.simulate:
            from telephony.lines.recording import CallRecording

            self.recording = CallRecording() if options["wav"] else None
            persona = get_persona(options["persona"] or settings.SIMULATED_PERSONA, say=options["say"])
            line = get_line(
                simulate=True,
                persona=persona,
                speed=options["speed"],
                base_url=options["server"],
                recording=self.recording,
                on_event=lambda kind, data: events.put((kind, data)),
            )
            self.stdout.write(f"Simulated line, callee persona: {persona.name} ({persona.description})")
        else:
            line = get_line(simulate=False)
            self.stdout.write(
                f"Twilio line; webhooks go to {settings.PUBLIC_BASE_URL} (the server must be up)"
            )
        try:
            line.place(call)
        except LineError as exc:
            services.call_set_status(call=call, status=Status.FAILED, end_reason="telephony_error")
            raise CommandError(str(exc)) from None
        self._follow(call, events)
        if self.recording is not None:
            path = self.recording.save(options["wav"])
            self.stdout.write(
                f"Audio saved to {path} ({self.recording.seconds:.1f} s; left callee, right agent)"
            )

    def _follow(self, call: Call, events: queue.Queue[tuple[str, dict[str, Any]]]) -> None:
        """Print status changes, line events and new transcript lines until the call is over."""
        from telephony.lines import simulated

        started = time.monotonic()
        shown_status, shown_seq, last_note = "", 0, started
        limit = settings.MAX_CALL_SECONDS + 120
        while True:
            self._drain(events)
            call.refresh_from_db()
            for message in selectors.call_transcript(call=call).filter(seq__gt=shown_seq):
                shown_seq = message.seq
                self.stdout.write(format_message(message, call))
            if call.status != shown_status:
                shown_status = call.status
                self.stdout.write(f"  · {call.status}")
            now = time.monotonic()
            if call.status in (Status.QUEUED, Status.INITIATED, Status.RINGING):
                if now - last_note >= RINGING_NOTE_EVERY_S:
                    last_note = now
                    self.stdout.write(f"  · still {call.status} ({now - started:.0f} s)")
                if not self.simulate and now - started > NO_ANSWER_HINT_S and call.status == Status.QUEUED:
                    raise CommandError("Twilio has not reported on the call: is PUBLIC_BASE_URL reachable?")
            if self.simulate:
                if simulated.join(call.sid, timeout=0) is not None:
                    self._drain(events)
                    self.line_result = simulated.join(call.sid)
                    break
            elif call.is_terminal or call.status == Status.TRANSFERRED:
                break
            if now - started > limit:
                raise CommandError(f"the call did not end within {limit} s")
            time.sleep(POLL_S)
        call.refresh_from_db()
        for message in selectors.call_transcript(call=call).filter(seq__gt=shown_seq):
            self.stdout.write(format_message(message, call))

    def _drain(self, events: queue.Queue[tuple[str, dict[str, Any]]]) -> None:
        while True:
            try:
                kind, data = events.get_nowait()
            except queue.Empty:
                return
            if kind == "caller_says":
                self.stdout.write(f"          (callee speaks) {data['text']}")
            elif kind == "clear":
                self.stdout.write(f"          (agent cut off: {data['dropped_ms']} ms of audio dropped)")
            elif kind == "transfer":
                self.stdout.write(f"  · transferred to {data['number']}")
            elif kind == "say":
                self.stdout.write(f"          (<Say>) {data['text']}")
            elif kind == "error":
                self.stderr.write(f"  ! line: {data['message']}")

    # --- the end ----------------------------------------------------------------------------

    def _finish(self, call: Call) -> None:
        call.refresh_from_db()
        messages = list(selectors.call_transcript(call=call))
        summary = summarize(call, messages)
        self.stdout.write("")
        for text in summary.lines():
            self.stdout.write(text)
        self.stdout.write(self._browse_hint(call))
        errors = getattr(getattr(self, "line_result", None), "errors", [])
        if summary.failed:
            raise CommandError(f"the call failed: {summary.status} ({summary.end_reason or 'no reason'})")
        if errors:
            raise CommandError(f"the simulated line saw problems: {'; '.join(errors)}")

    def _browse_hint(self, call: Call) -> str:
        try:
            path = reverse("admin:calls_call_change", args=[call.pk])
        except NoReverseMatch:
            path = "/admin/"
        return (
            f"Browse it: `make serve`, then open {settings.PUBLIC_BASE_URL}{path} "
            "(`make admin-user` creates a login)."
        )
