"""What a request's body may cost, enforced as it arrives (a plain ASGI middleware): its size
(413), the memory of all bodies being received at once (503), and the time to receive it (408).

Starlette and FastAPI read a body only through `receive`, and the server reads the socket only
as `receive` asks for more, so a request holds at most MAX_REQUEST_BODY_BYTES (and a socket
read) however its body arrives: with a Content-Length (refused before the app runs, and before
the server would send 100 Continue) or streamed in chunks (cut off at the limit). The answers
are raised as HTTPExceptions, so the app's handler answers them in JSON, through the request's
middleware (its id, log line, metrics); each closes the connection, so the rest of the body is
never kept. A client still sending when its 413 or 503 is decided has what it keeps sending read
and dropped first (up to DRAIN_BYTES): a connection closed on unread bytes is reset, and the
reset can reach the client before the answer does. Once the app has started its response
nothing can be answered: the server closes the connection.
"""

import asyncio
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLOSE = {"Connection": "close"}
DRAIN_BYTES = 1 << 20
DRAIN_PAUSE = 0.2  # seconds without a byte: the client has stopped sending


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers=CLOSE)


class BodiesOverBudget(HTTPException):
    def __init__(self) -> None:
        detail = "too many request bodies being received, retry later"
        super().__init__(503, detail, headers={**CLOSE, "Retry-After": "5"})


class BodyTimeout(HTTPException):
    def __init__(self, timeout: float) -> None:
        super().__init__(408, f"request body not received within {timeout:g} s", headers=CLOSE)


BODY_ERRORS = (BodyTooLarge, BodiesOverBudget, BodyTimeout)


class BodyLimitsMiddleware:
    """`max_bytes` per request; `max_total_bytes` of body received by all requests in flight
    together (else each client's limit times the number of clients is the memory held: 300
    stalled 1 MiB bodies OOM-kill a 256 MiB container); the whole body within `timeout`
    seconds of the request reaching the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_total_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.timeout = timeout
        self.in_flight = 0  # bytes received by this process's requests, released as each ends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await drain(scope, receive)
                await answer(send, BodyTooLarge(self.max_bytes))
                return
        deadline = asyncio.get_running_loop().time() + self.timeout
        received = 0
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: what is awaited now is the disconnect, no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.timeout) from None
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                if received + size > self.max_bytes:
                    await drain(scope, receive)
                    raise BodyTooLarge(self.max_bytes)
                if self.in_flight + size > self.max_total_bytes:
                    await drain(scope, receive)
                    raise BodiesOverBudget
                received += size
                self.in_flight += size
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BODY_ERRORS as error:  # escaped the app's handlers (a middleware read the body)
            if started:
                raise  # mid-response: the server closes the connection
            await answer(send, error)
        finally:
            self.in_flight -= received


async def answer(send: Send, error: HTTPException) -> None:
    body = json.dumps({"detail": error.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def drain(scope: Scope, receive: Receive) -> None:
    """Reads and drops the rest of a request's body while it keeps coming, up to DRAIN_BYTES. Not
    for a client waiting for 100 Continue before it sends: it is answered at once."""
    if (b"expect", b"100-continue") in [(k, v.lower()) for k, v in scope["headers"]]:
        return
    dropped = 0
    while dropped < DRAIN_BYTES:
        try:
            async with asyncio.timeout(DRAIN_PAUSE):
                message = await receive()
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))
