"""How the simulated line reaches the app: in-process (no server) or over the network.

Both take the absolute URLs Twilio would use (built from PUBLIC_BASE_URL) so the signature
covers exactly what the webhooks check. In-process, HTTP goes through `httpx.ASGITransport`
and the stream through asgiref's `ApplicationCommunicator`, both into the real
`voiceagent.asgi.application`; over the network, the same requests go to a running Daphne.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from asgiref.testing import ApplicationCommunicator

from voiceagent.logging import get_logger

log = get_logger("telephony.lines.transport")

HTTP_TIMEOUT_SECONDS = 30.0  # webhooks answer in well under a second; this only stops a hang


class LinkClosed(Exception):
    """The stream could not be opened: the app refused or closed it at once."""


@dataclass(frozen=True)
class HttpReply:
    status: int
    text: str


class StreamLink(Protocol):
    async def send(self, text: str) -> None: ...

    async def receive(self) -> str | None:
        """The next text message, or None once the app has closed the stream."""

    async def close(self) -> None: ...


class Transport(Protocol):
    async def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> HttpReply: ...

    async def open_stream(self, url: str) -> StreamLink: ...

    async def aclose(self) -> None: ...


# --- in-process --------------------------------------------------------------------------


def _asgi_application() -> Any:
    from voiceagent.asgi import application  # imported late: it sets Django up

    return application


class InProcessTransport:
    def __init__(self, application: Any = None) -> None:
        self.application = application or _asgi_application()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.application), timeout=HTTP_TIMEOUT_SECONDS
        )

    async def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> HttpReply:
        response = await self._http.post(url, data=form, headers=headers)
        return HttpReply(response.status_code, response.text)

    async def open_stream(self, url: str) -> StreamLink:
        parts = urlsplit(url)
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": parts.scheme or "wss",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "root_path": "",
            "query_string": parts.query.encode(),
            "headers": [(b"host", parts.netloc.encode())],
            "client": ("127.0.0.1", 0),
            "server": (parts.hostname or "localhost", parts.port or 443),
            "subprotocols": [],
        }
        link = _CommunicatorLink(ApplicationCommunicator(self.application, scope))
        await link.open()
        return link

    async def aclose(self) -> None:
        await self._http.aclose()


class _CommunicatorLink:
    def __init__(self, communicator: ApplicationCommunicator) -> None:
        self._app = communicator
        self._closed = False

    async def open(self) -> None:
        await self._app.send_input({"type": "websocket.connect"})
        message = await self._next()
        if message is None or message["type"] != "websocket.accept":
            self._closed = True
            raise LinkClosed("the app did not accept the stream")

    async def send(self, text: str) -> None:
        if not self._closed:
            await self._app.send_input({"type": "websocket.receive", "text": text})

    async def receive(self) -> str | None:
        while not self._closed:
            message = await self._next()
            if message is None or message["type"] == "websocket.close":
                self._closed = True
                return None
            if message["type"] == "websocket.send":
                return message.get("text") or (message.get("bytes") or b"").decode()
        return None

    async def close(self) -> None:
        self._closed = True
        if not self._app.future.done():
            # Also after the app closed: a client answers the close frame, and only then
            # does the app see `websocket.disconnect` and finish.
            await self._app.send_input({"type": "websocket.disconnect", "code": 1000})
        # The consumer finalises the call on disconnect; give it time, then stop it.
        try:
            await self._app.wait(timeout=HTTP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("stream consumer did not finish", extra={"event": "simulated_stream_stuck"})
        except Exception:
            log.exception("stream consumer crashed", extra={"event": "simulated_stream_crashed"})

    async def _next(self) -> dict[str, Any] | None:
        # Unlike ApplicationCommunicator.receive_output, never time out: that would cancel the app.
        queue, app = self._app.output_queue, self._app.future
        if not queue.empty():
            return queue.get_nowait()
        if app.done():
            app.result()  # re-raise the consumer's crash, if it crashed
            return None
        getter = asyncio.ensure_future(queue.get())
        await asyncio.wait({getter, app}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        app.result()
        return None


# --- network ----------------------------------------------------------------------------


class NetworkTransport:
    """Requests go to `base_url` (e.g. a Daphne on 127.0.0.1:8000) whatever the public URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)

    def _local(self, url: str, *, websocket: bool = False) -> str:
        parts = urlsplit(url)
        target = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        if websocket:
            target = target.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return target

    async def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> HttpReply:
        response = await self._http.post(self._local(url), data=form, headers=headers)
        return HttpReply(response.status_code, response.text)

    async def open_stream(self, url: str) -> StreamLink:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake

        try:
            socket = await connect(self._local(url, websocket=True), open_timeout=HTTP_TIMEOUT_SECONDS)
        except (OSError, InvalidHandshake) as exc:
            raise LinkClosed(f"the stream could not be opened: {exc.__class__.__name__}") from None
        return _SocketLink(socket)

    async def aclose(self) -> None:
        await self._http.aclose()


class _SocketLink:
    def __init__(self, socket: Any) -> None:
        self._socket = socket

    async def send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            await self._socket.send(text)

    async def receive(self) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self._socket.recv()
        except ConnectionClosed:
            return None
        return message if isinstance(message, str) else message.decode()

    async def close(self) -> None:
        await self._socket.close()
