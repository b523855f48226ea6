"""Streaming calls (docs/protocol.md §5.1) on the asyncio client: an async iterator over a
stream's messages, and an async context manager that cancels the stream when it is left."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Generic, Optional, Type, TypeVar, Union

from google.protobuf.message import DecodeError, Message

from .errors import Code, ProtocolError, ResourceExhausted, TallyError, error_from_response

if TYPE_CHECKING:  # pragma: no cover
    from .aio import AsyncTallyClient

M = TypeVar("M", bound=Message)

#: Messages a stream may hold that its reader has not taken yet. The client reads the socket
#: all the time (other calls' answers share it), so a reader that stops taking would otherwise
#: grow this process's memory without bound: past this, the stream is cancelled and ends with
#: RESOURCE_EXHAUSTED STREAM_BACKLOG_FULL (tallyd's WATCH_TOO_SLOW, on this side).
BACKLOG_LIMIT = 10_000


class _End:
    """The queue's last item: the stream's last frame, or why the client lost it."""

    def __init__(self, response: Any = None, error: Optional[BaseException] = None) -> None:
        self.response = response
        self.error = error


class AsyncStream(Generic[M]):
    """The messages of one stream, in order: ``async for message in stream``. The iteration ends
    when tallyd ends the stream with OK, and raises its last status otherwise (a TallyError;
    ``details["resume_after"]`` says where to resume a balance watch or a change feed). Leaving
    an ``async with`` block, or :meth:`cancel`, ends the stream on the server."""

    def __init__(self, client: "AsyncTallyClient", call_id: int, method: str, message_type: Type[M]) -> None:
        self.call_id = call_id
        self.method = method
        self._client = client
        self._message_type = message_type
        self._queue: "asyncio.Queue[Union[M, _End]]" = asyncio.Queue()
        self._ended = False  # the last frame (or a loss) is in the queue
        self._cancelled = False
        self._end: Optional[_End] = None  # taken from the queue
        self._last: Optional[_End] = None  # arrived (the queue's last item)
        self._done = asyncio.Event()

    # Called by the client's reader for each frame of this stream.
    def _take(self, response: Any) -> None:
        if self._ended:
            return
        if not response.more:
            self._finish(_End(response=response))
            return
        if self._cancelled:
            return
        if self._queue.qsize() >= BACKLOG_LIMIT:
            self._client._cancel_stream(self.call_id, keep=False)
            self._finish(_End(error=ResourceExhausted(
                Code.RESOURCE_EXHAUSTED, "STREAM_BACKLOG_FULL",
                f"{BACKLOG_LIMIT} messages of the stream were not taken; it was cancelled", {"limit": str(BACKLOG_LIMIT)},
                call_id=self.call_id, method=self.method,
            )))
            return
        try:
            self._queue.put_nowait(self._message_type.FromString(response.payload))
        except DecodeError as e:
            self._client._cancel_stream(self.call_id, keep=False)
            self._finish(_End(error=ProtocolError(
                Code.INTERNAL, "MALFORMED_RESPONSE", f"a message of the stream did not decode: {e}", call_id=self.call_id,
                method=self.method,
            )))

    def _lose(self, error: BaseException) -> None:
        self._finish(_End(error=error))

    def _finish(self, end: _End) -> None:
        if not self._ended:
            self._ended = True
            self._last = end
            self._queue.put_nowait(end)
            self._done.set()

    def __aiter__(self) -> "AsyncStream[M]":
        return self

    async def __anext__(self) -> M:
        # Messages that came before a cancel are still given; after it the iteration stops.
        if self._end is None and not (self._cancelled and self._queue.empty()):
            item = await self._queue.get()
            if not isinstance(item, _End):
                return item
            self._end = item
        if self._cancelled:
            raise StopAsyncIteration
        error = self._end_error()
        if error is not None:
            raise error
        raise StopAsyncIteration

    def _end_error(self, end: Optional[_End] = None) -> Optional[BaseException]:
        end = end or self._end
        assert end is not None
        if end.error is not None:
            return end.error
        return None if end.response.code == 0 else error_from_response(end.response, self.method)

    async def cancel(self, wait: bool = False) -> Optional[BaseException]:
        """Ends the stream on the server; iterating then gives what came before and stops.
        With ``wait``, waits for tallyd's last frame and returns it: a TallyError (CANCELLED,
        with ``details["resume_after"]`` for a balance watch or a change feed, or what ended
        the stream first), or None if it ended OK."""
        if not self._ended and not self._cancelled:
            self._cancelled = True
            self._client._cancel_stream(self.call_id, keep=True)
        self._cancelled = True
        if not wait:
            return None
        await self._done.wait()
        return self._end_error(self._last)

    async def __aenter__(self) -> "AsyncStream[M]":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.cancel()
