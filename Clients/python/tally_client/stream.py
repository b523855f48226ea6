"""Streaming calls (docs/protocol.md §5.1) on the blocking client: an iterator over a stream's
messages, and a context manager that cancels the stream when it is left early."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any, Deque, Generic, Optional, Type, TypeVar

from google.protobuf.message import Message

from .errors import TallyError, error_from_response

if TYPE_CHECKING:  # pragma: no cover
    from .client import TallyClient

M = TypeVar("M", bound=Message)


class Stream(Generic[M]):
    """The messages of one stream, in order. Iterating reads from the socket as needed (other
    calls on the same client route their own answers meanwhile). The iteration ends when
    tallyd ends the stream with OK, and raises the stream's last status otherwise: a
    TallyError whose ``details["resume_after"]`` is the position to resume after. Leaving a
    ``with`` block, or :meth:`cancel`, ends the stream on the server."""

    def __init__(self, client: "TallyClient", call_id: int, method: str, message_type: Type[M]) -> None:
        self.call_id = call_id
        self.method = method
        self._client = client
        self._message_type = message_type
        self._queue: Deque[M] = collections.deque()
        self._end: Optional[Any] = None
        self._cancelled = False
        self._kept = False  # cancelled, but the last frame is still routed here

    # Called by the client for each frame of this stream.
    def _take(self, response: Any) -> None:
        if response.more and self._cancelled:
            return
        if response.more:
            self._queue.append(self._message_type.FromString(response.payload))
        else:
            self._end = response

    @property
    def ended(self) -> bool:
        return self._end is not None or self._cancelled

    def __iter__(self) -> "Stream[M]":
        return self

    def __next__(self) -> M:
        while not self._queue:
            if self._cancelled:
                raise StopIteration
            if self._end is not None:
                if self._end.code == 0:
                    raise StopIteration
                raise error_from_response(self._end, self.method)
            self._client._pump_streams()
        return self._queue.popleft()

    def cancel(self, wait: bool = False) -> Optional[TallyError]:
        """Ends the stream on the server. Without ``wait``, its last frame is not waited for.
        With ``wait``, reads on to tallyd's last frame and returns the stream's end: a
        TallyError (CANCELLED with ``details["resume_after"]`` for a balance watch, or what
        ended it first), or None if it ended OK. Messages that came before are still iterated."""
        if not self.ended:
            self._cancelled = True
            self._kept = wait
            self._client._cancel_stream(self.call_id, keep=wait)
        if not wait or (self._end is None and not self._kept):
            return None  # (cancelled earlier without waiting: its last frame was let go)
        while self._end is None:
            self._client._pump_streams()
        return None if self._end.code == 0 else error_from_response(self._end, self.method)

    def __enter__(self) -> "Stream[M]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()
