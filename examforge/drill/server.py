"""`examforge serve`: the drill app (examforge.drill.web) under uvicorn, with limits on the
requests themselves, which uvicorn (0.55, httptools) does not set.

uvicorn times out idle keep-alive connections, but not a request that is being sent: a client
that opens a connection and sends half a request line, or headers without their end, or fewer
body bytes than it announced, holds the connection (and its app task) for ever; and httptools
buffers a header of any length. `DrillProtocol` is uvicorn's httptools protocol with:

- HEAD_TIMEOUT: a request's line and headers must arrive within this many seconds of its first
  byte (of the connection's opening, for the first request); a connection that sends nothing
  is closed after it too;
- BODY_TIMEOUT: its body must arrive within this many seconds of the headers' end;
- MAX_URL_BYTES, MAX_HEAD_BYTES and MAX_HEADERS (414 and 431 beyond), and web.MAX_BODY (413,
  from Content-Length before any of the body is read, or as the body arrives);
- a request that is not HTTP/1.1 gets a 400 with a JSON {"error": ...} body and the security
  headers, like the app's own errors (uvicorn answers in plain text).

A request that times out while being sent gets a 408 with a JSON body, then the connection is
closed; a connection that never started a request is closed silently. The CPU a request can
take is bounded by the app (see examforge.drill.answers and web.parse_json_body).
"""

from __future__ import annotations

import json
from asyncio import TimerHandle
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from examforge.drill.web import MAX_BODY, SECURITY_HEADERS

HEAD_TIMEOUT = 5.0  # seconds
BODY_TIMEOUT = 5.0  # seconds; a check's body is under 1 KiB
KEEP_ALIVE_TIMEOUT = 30  # seconds an idle connection stays open between requests
MAX_URL_BYTES = 8 * 1024
MAX_HEAD_BYTES = 16 * 1024  # the request line and all headers
MAX_HEADERS = 100
LINGER_SECONDS = 2.0  # after refusing a request still arriving: read and drop its rest this long
LINGER_BYTES = 1024 * 1024  # ... or this much
# SIGTERM (or Ctrl-C): stop accepting, close idle connections, answer the requests in flight,
# then exit; whatever is still open after this many seconds is cancelled. The limits above end
# any request within HEAD_TIMEOUT + BODY_TIMEOUT + LINGER_SECONDS, so this only bounds the odd
# client that does not read its answer.
GRACEFUL_SHUTDOWN_SECONDS = 10

_ERROR_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()] + [
    (b"content-type", b"application/json"), (b"cache-control", b"no-store"), (b"connection", b"close")]


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; the reason is in DrillProtocol._refusal."""


class DrillProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with request timeouts and size limits (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: TimerHandle | None = None
        self._phase = "idle"  # "head" (line and headers arriving), "body", "idle" (between requests)
        self._head_bytes = 0  # bytes of the current request's head, counted two ways (see data_received)
        self._raw_head_bytes = 0
        self._headers_seen = 0
        self._body_bytes = 0
        self._boundary = False  # a head or a message ended during the current data_received
        self._refusal: tuple[int, str] | None = None
        self._lingering = False
        self._dropped = 0

    # -- timers ----------------------------------------------------------------------------------

    def eof_received(self) -> bool | None:
        if self._lingering:
            self.transport.close()
        return super().eof_received()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._phase == "idle":  # nothing of a request yet: just close
            self.transport.close()
            return
        what = "its headers" if self._phase == "head" else "its body"
        seconds = HEAD_TIMEOUT if self._phase == "head" else BODY_TIMEOUT
        self._refuse(408, f"the request did not arrive in time: {what} took more than {seconds:g} s")

    # -- refusing a request ----------------------------------------------------------------------

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with {"error": message} and close the connection. When an earlier
        request's response is still to come (pipelining), the connection closes after it instead."""
        self._disarm()
        if self.transport.is_closing() or self._lingering:
            return
        cycle = self.cycle
        if self._phase != "body" and cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False  # cycle is the earlier request's: let it answer, then close
            self.flow.pause_reading()
            return
        if self.pipeline or (self._phase == "body" and cycle is not None and cycle.response_started):
            self.transport.close()  # a response is under way (or the app answered already)
            return
        if self._phase == "body" and cycle is not None:  # the app waits for this body: it will not come
            cycle.disconnected = True
            cycle.message_event.set()
        body = json.dumps({"error": message}).encode("ascii")
        head = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *_ERROR_HEADERS,
                            (b"content-length", str(len(body)).encode("ascii"))]:
            head += [name, b": ", value, b"\r\n"]
        self.transport.write(b"".join(head) + b"\r\n" + body)
        if self._phase == "idle" or not self.transport.can_write_eof():
            self.transport.close()
            return
        # The rest of the request may be on its way: closing now, with its bytes unread, would
        # send the client a reset that can destroy the answer before it is read. So the answer
        # is followed by a FIN and the rest is read and dropped, for a while (a lingering close).
        self._lingering = True
        self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _stop(self, status: int, message: str) -> None:
        self._refusal = (status, message)
        raise _Refused(message)

    def send_400_response(self, msg: str) -> None:  # uvicorn calls this when parsing fails
        self._refuse(*(self._refusal or (400, "the request is not valid HTTP/1.1")))

    # -- the connection ----------------------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(HEAD_TIMEOUT)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self.transport.is_closing():
            return
        self._boundary = False
        super().data_received(data)
        if self.transport.is_closing():
            return
        # httptools keeps a header's pieces until its line ends: count the raw bytes too, so a
        # header line without an end cannot grow without bound (one read chunk at most).
        if self._phase == "head" and not self._boundary:
            self._raw_head_bytes += len(data)
            if self._raw_head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, f"the request's headers are longer than {MAX_HEAD_BYTES} bytes")
                return
        if self._phase == "idle" and self._timer is None and self.timeout_keep_alive_task is None and (
                self.cycle is None or self.cycle.response_complete):
            self._arm(HEAD_TIMEOUT)  # bytes between requests (blank lines): a request must follow

    # -- parser callbacks ------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "head"
        self._head_bytes = self._raw_head_bytes = self._headers_seen = self._body_bytes = 0
        self._arm(HEAD_TIMEOUT)

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if len(self.url) + len(url) > MAX_URL_BYTES:
            self._stop(414, f"the URL is longer than {MAX_URL_BYTES} bytes")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        self._headers_seen += 1
        if self._head_bytes > MAX_HEAD_BYTES:
            self._stop(431, f"the request's headers are longer than {MAX_HEAD_BYTES} bytes")
        if self._headers_seen > MAX_HEADERS:
            self._stop(431, f"the request has more than {MAX_HEADERS} headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._boundary = True
        for name, value in self.headers:
            if name == b"content-length" and value.strip().isdigit() and (
                    len(value.strip()) > 12 or int(value) > MAX_BODY):
                self._stop(413, f"the request body is larger than {MAX_BODY} bytes")
        super().on_headers_complete()
        self._phase = "body"
        self._arm(BODY_TIMEOUT)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY:
            self._stop(413, f"the request body is larger than {MAX_BODY} bytes")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._boundary = True
        self._phase = "idle"
        self._disarm()
        super().on_message_complete()


def run(*, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning") -> None:
    import uvicorn

    # the URL is printed by serve() below once /healthz says the server is warmed up
    uvicorn.run("examforge.drill.web:create_served_app", factory=True, host=host, port=port, workers=workers,
                http="examforge.drill.server:DrillProtocol", ws="none", log_level=log_level, access_log=False,
                server_header=False, timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)


def serve(*, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning") -> None:
    """`examforge serve`: the URL is printed once the server is warmed up (/healthz)."""
    import threading

    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    threading.Thread(target=_announce_when_ready, args=(host, port, url), daemon=True).start()
    run(host=host, port=port, workers=workers, log_level=log_level)


def _announce_when_ready(host: str, port: int, url: str, timeout: float = 600.0) -> None:
    """Print the URL once the server accepts connections and /healthz says it is warmed up,
    so a student who opens it at once gets the page, not a refused connection."""
    import http.client
    import time

    probe = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(probe, port, timeout=2)
            conn.request("GET", "/healthz")
            ready = conn.getresponse().status == 200
            conn.close()
            if ready:
                print(f"examforge drill: {url}  (Ctrl-C stops)", flush=True)
                return
        except OSError:
            pass
        time.sleep(0.1)
