"""Django's WSGI handler under the ASGI server, with two thread handoffs per request.

a2wsgi, which the web role used alone before, reads the body from the worker thread and
sends every response message from it, each a round trip to the event loop
(``run_coroutine_threadsafe`` and a wait on its future), through a queue and a sender
task: for a small request, five handoffs between the loop and a thread. In a py-spy
profile of the web role under the webhook benchmark that bridging and uvicorn's protocol
took most of the process's CPU, Django's own handling 17 %.

Most requests (an API call, a webhook) carry a small body and get a complete response
(``HttpResponse``): here the loop reads such a body, the thread runs Django and returns
the whole response, and the loop sends it, one handoff each way. A body past
``PREREAD_BYTES`` goes to a2wsgi as before (it streams the rest as the view reads, so a
large upload is never held in memory here), the bytes already read replayed first; a
streaming response (``StreamingHttpResponse``, ``FileResponse``) is sent chunk by chunk
from the thread, as a2wsgi does.
"""

import asyncio
import contextvars
import functools
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from a2wsgi import WSGIMiddleware
from a2wsgi.asgi_typing import Receive, Scope, Send
from a2wsgi.wsgi import Body, build_environ
from a2wsgi.wsgi_typing import Environ, WSGIApp

# build_environ and Body are a2wsgi's own, not its public API: the pin in pyproject.toml
# keeps them; tests/test_wsgi_bridge.py is what to run when it moves.

# As much as uvicorn buffers of a body before it stops reading the socket: what the loop
# holds per request here is what it would have held anyway.
PREREAD_BYTES = 64 * 1024

Message = dict[str, Any]


class WSGIBridge:
    """An ASGI app serving ``app`` (WSGI) on a pool of ``workers`` threads."""

    def __init__(self, app: WSGIApp, *, workers: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(thread_name_prefix="WSGI", max_workers=workers)
        self._streamed = WSGIMiddleware(app, workers=1)
        self._streamed.executor.shutdown()
        self._streamed.executor = self.executor  # one pool: LINKFLOW_WEB_THREADS in all

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._streamed(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= PREREAD_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before the request was whole: nothing to answer
            chunk = cast(bytes, message.get("body", b""))
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
        if more:
            await self._streamed(scope, _replaying(chunks, receive), send)
            return
        # build_environ only stores the body: any file-like object does as wsgi.input.
        body = cast(Body, io.BytesIO(b"".join(chunks)))
        environ = build_environ(scope, body)
        loop = asyncio.get_running_loop()
        respond = functools.partial(
            contextvars.copy_context().run, self._respond, environ, loop, send
        )
        whole = await loop.run_in_executor(self.executor, respond)
        if whole is not None:
            start, content = whole
            await send(cast(Any, start))
            await send({"type": "http.response.body", "body": content, "more_body": False})

    def _respond(
        self, environ: Environ, loop: asyncio.AbstractEventLoop, send: Send
    ) -> tuple[Message, bytes] | None:
        """Run the app on this thread. A complete response comes back whole, for the loop
        to send; a streaming one is sent from here as it is produced (None comes back)."""
        start: Message = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            start.update(
                type="http.response.start",
                status=int(status.split(" ", 1)[0]),
                headers=[
                    (name.strip().encode("latin1").lower(), value.strip().encode("latin1"))
                    for name, value in headers
                ],
            )
            return _no_write

        iterable: Any = self.app(environ, start_response)
        try:
            # Django's responses say whether they stream; anything else is taken to.
            if getattr(iterable, "streaming", True) is False:
                return start, b"".join(iterable)
            self._send_from_thread(loop, send, start)
            for chunk in iterable:
                if chunk:
                    self._send_from_thread(
                        loop, send, {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
            self._send_from_thread(loop, send, {"type": "http.response.body", "body": b""})
            return None
        finally:
            # Django's request_finished (the database connection back to its pool).
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _send_from_thread(loop: asyncio.AbstractEventLoop, send: Send, message: Message) -> None:
        asyncio.run_coroutine_threadsafe(_sending(send, message), loop).result()


async def _sending(send: Send, message: Message) -> None:
    await send(cast(Any, message))


def _no_write(data: bytes) -> None:
    # PEP 3333's write() is for frameworks older than iterables; Django never calls it.
    raise NotImplementedError("write() is not supported; return an iterable")


def _replaying(chunks: list[bytes], receive: Receive) -> Receive:
    """``receive`` with the body chunks already read handed out first."""
    pending = list(chunks)

    async def replay() -> Any:
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": True}
        return await receive()

    return replay
