"""The HTTP server's limits where the app can't see: uvicorn's httptools protocol, with the
request-head size and header count it lacks (431), a deadline for the whole head (slowloris, and
connections opened and left silent: 408, closed), an idle keep-alive timeout that bytes trickled
after a response can't keep alive, and a connection cap that first closes idle or still-sending
connections, then refuses new ones (503) before the process runs out of file descriptors.

cli.py serves with `http=GuardedHttpToolsProtocol`; uvicorn makes one per connection. Its limits
come from the settings (README: Limits), read again in each worker process uvicorn starts. It
extends HttpToolsProtocol's internals (cycle, parser, flow, pipeline, the keep-alive timer):
uvicorn is pinned to a minor release in pyproject.toml, and tests/test_limits.py exercises each.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import resource
import termios
import time
from collections import OrderedDict
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from {{ cookiecutter.package_name }}.settings import Settings


def _canned(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
    )


RESPONSE_431 = _canned(431, "Request Header Fields Too Large", "request header fields too large")
RESPONSE_408 = _canned(408, "Request Timeout", "request head not received in time")
RESPONSE_503 = _canned(503, "Service Unavailable", "too many connections, retry later")
# Named once: `except (A, B)` is formatted differently from Python 3.14 on (no parentheses).
CANNOT_HALF_CLOSE = (NotImplementedError, OSError, RuntimeError)
CANNOT_RAISE_LIMIT = (ValueError, OSError)
# Bytes a closing connection still reads and drops so the client gets the answer, not a reset.
LINGER_BYTES = 1 << 20


class _TooManyHeadersError(Exception):
    pass


class _GracefulTransport:
    """The transport as uvicorn's code sees it: close() lingers when the request body hasn't all
    been read (a 413 answered mid-upload), so the client reads the answer instead of a reset."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, transport: asyncio.Transport, protocol: GuardedHttpToolsProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol._close_gracefully()

    def is_closing(self) -> bool:
        return self._protocol._lingering or self._transport.is_closing()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # The limits, set by configure() (from the settings) before the first connection.
    max_head_bytes: int
    max_headers: int
    head_timeout: float
    max_connections: int
    configured = False
    # Only connections idle (or sending their head) at least this long are evicted: a connection
    # just accepted whose request the loop hasn't read yet is not idle.
    evict_after: float = 1.0
    linger_seconds: float = 2.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.max_head_bytes = settings.max_request_head_bytes
        cls.max_headers = settings.max_request_headers
        cls.head_timeout = settings.request_head_timeout
        cls.max_connections = connection_limit(settings.max_connections)
        cls.configured = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not GuardedHttpToolsProtocol.configured:  # a worker process uvicorn started
            GuardedHttpToolsProtocol.configure(Settings())
        super().__init__(*args, **kwargs)
        self._in_head = True  # bytes arriving now belong to a request head
        self._head_bytes = 0
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_began: float | None = None  # loop time of the current head's first byte
        self._idle_since = time.monotonic()
        self._refused = False
        self._lingering = False
        self._linger_left = LINGER_BYTES
        self._raw: asyncio.Transport = None  # type: ignore[assignment]
        # Connections with no request in flight, oldest first: shared by the server's protocols.
        idle = getattr(self.server_state, "guarded_idle", None)
        if idle is None:
            idle = self.server_state.guarded_idle = OrderedDict()  # type: ignore[attr-defined]
        self._idle: OrderedDict[GuardedHttpToolsProtocol, float] = idle

    # ---- connection cap ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        if len(self.connections) >= self.max_connections:
            victim = self._evictable()
            if victim is None:
                # Every connection is busy or new: refuse this one, cheaply. Closed at once, not
                # lingering: under a flood, lingering refusals would use up the descriptors the
                # limit is there to keep.
                self._refused = True
                self.transport = transport
                transport.write(RESPONSE_503)
                transport.close()
                return
            victim._close_now()
        super().connection_made(_GracefulTransport(transport, self))  # type: ignore[arg-type]
        self._set_idle(True)
        self._arm_head_timer()

    def _set_idle(self, idle: bool) -> None:
        if idle:
            self._idle_since = time.monotonic()
            self._idle[self] = self._idle_since
            self._idle.move_to_end(self)
        else:
            self._idle.pop(self, None)

    def _evictable(self) -> GuardedHttpToolsProtocol | None:
        """The connection idle longest, if idle at least evict_after seconds (idle keep-alive,
        still sending its head, or draining an unread body after its response) and with nothing
        unread in its socket (an overloaded loop may not have read a waiting request yet).
        Looks at the 16 oldest at most."""
        now = time.monotonic()
        for looked, (conn, since) in enumerate(self._idle.items()):
            if looked >= 16 or now - since < self.evict_after:
                return None
            if conn._unread_bytes() == 0:
                return conn
        return None

    def _unread_bytes(self) -> int:
        sock = self._raw.get_extra_info("socket")
        if sock is None:
            return 0
        try:
            buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return 0
        return int.from_bytes(buf, "little")

    def _close_now(self) -> None:
        self.connections.discard(self)  # counted out at once, not when the loop gets to it
        self._set_idle(False)
        self._cancel_head_timer()
        self._raw.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._set_idle(False)
        if self._refused:
            return
        super().connection_lost(exc)

    def _close_gracefully(self) -> None:
        if self._lingering or self._raw.is_closing():
            return
        if not self._in_head:  # the request's body isn't all read: answer first, then close
            self._linger()
        else:
            self._raw.close()

    # ---- head size, header count ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        # Unlike the parent, bytes don't cancel the keep-alive timer: only a new request does
        # (on_message_begin), so trickling an unread body after the response can't hold the
        # connection open.
        if self._refused or self._lingering:
            self._linger_left -= len(data)
            if self._linger_left < 0:
                self.transport.abort()
            return
        if self._in_head:
            allowed = self.max_head_bytes - self._head_bytes
            if len(data) > allowed:
                # Feed only what the limit allows; if the head ends within it, the rest is body
                # (or the next request) and is fed normally.
                if not self._feed(data[:allowed]):
                    return
                if self._in_head:
                    self._reject(RESPONSE_431)
                    return
                data = data[allowed:]
            else:
                self._head_bytes += len(data)
        # A head still incomplete after this read: its deadline runs from its first byte. (Armed
        # only now: most heads arrive whole in one read, and then no timer is made.)
        if (
            self._feed(data)
            and self._in_head
            and self._head_began is not None
            and self._head_timer is None
        ):
            self._head_timer = self.loop.call_at(
                self._head_began + self.head_timeout, self._head_timed_out
            )

    def _feed(self, data: bytes) -> bool:
        """Feeds the parser; False when the connection is done for."""
        if not data:
            return True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _TooManyHeadersError):
                self._reject(RESPONSE_431)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return not self.transport.is_closing()

    def on_message_begin(self) -> None:
        self._unset_keepalive_if_required()  # a new request: the idle timer stops here
        if self._head_timer is None:
            self._head_began = self.loop.time()
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            raise _TooManyHeadersError
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_began = None
        self._cancel_head_timer()
        self._set_idle(False)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0

    def on_response_complete(self) -> None:
        if not self.pipeline:
            self._set_idle(True)
        super().on_response_complete()
        if self._head_timer is not None:
            # The next request's head is already arriving: its own deadline applies, not the
            # idle one the parent just armed.
            self._unset_keepalive_if_required()

    # ---- head deadline -------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._head_timer is None and self.head_timeout:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head is late while a response is in progress: close after it.
            self.cycle.keep_alive = False
            return
        self._reject(RESPONSE_408)

    # ---- answering and closing -----------------------------------------------------------

    def _reject(self, response: bytes) -> None:
        """Answers with a canned response and closes, reading (and dropping) what the client
        still sends for a moment, so it reads the answer instead of a connection reset."""
        self._cancel_head_timer()
        self._unset_keepalive_if_required()
        self.transport.write(response)
        self._linger()

    def _linger(self) -> None:
        self._lingering = True
        self.connections.discard(self)
        self._set_idle(False)
        raw = self._raw
        try:
            raw.write_eof()
        except CANNOT_HALF_CLOSE:
            raw.close()
            return
        if self.flow is not None:
            self.flow.read_paused = False
        raw.resume_reading()
        self.loop.call_later(self.linger_seconds, raw.close)


def connection_limit(wanted: int, reserve: int = 128) -> int:
    """Raises this process's open-file limit to its hard limit and returns at most `wanted`
    connections, leaving `reserve` descriptors for everything else (database pool, logs, files).
    Past the descriptor limit, libuv accepts and drops connections silently: refusing with a 503
    below it is what keeps answering."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except CANNOT_RAISE_LIMIT:
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - reserve))
