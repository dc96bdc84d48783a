"""P-DATA on the way out (fragmentation) and on the way in (reassembly), PS3.8 Annex E.

Out: a message part becomes P-DATA-TF PDUs of one PDV each, as lists of 12-byte headers and
memoryviews into the caller's buffers (for sendmsg), produced in windows so that a 2 GB
file is read and queued a few MiB at a time; when the peer has no maximum length (0), a
PDU still carries at most one window. In: PDVs are checked against Annex E (one
message at a time, command fragments before data fragments, accepted contexts only) and
gathered per message; the data set goes to memory or to a sink chosen when the command set
is complete. Only what Annex E defines is read here, the PDV control headers: whether a
data set follows a command set is a question for the layer above (``needs_dataset``), as
is where its bytes go (``sink``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dicomul.ul._core import fragment, fragment_size

__all__ = [
    "message_batches",
    "ready_message",
    "check_dataset",
    "Reassembler",
    "AnnexEViolation",
    "DEFAULT_WINDOW",
]

#: Bytes of a data set fragmented and queued at a time.
DEFAULT_WINDOW = 4 * 1024 * 1024
#: Bytes of a file mapped at once: mapped pages count in the sender's RSS until unmapped.
MAP_SPAN = 4 * 1024 * 1024

Buffers = list[Any]


def check_dataset(dataset: Any) -> None:
    """TypeError unless ``dataset`` is a data set source message_batches can send:
    bytes-like, a readable binary file, or an iterable of bytes-like buffers."""
    if isinstance(dataset, (bytes, bytearray, memoryview)) or hasattr(dataset, "read"):
        return
    if isinstance(dataset, str) or not hasattr(dataset, "__iter__"):
        raise TypeError(
            "a data set is bytes-like, a readable binary file or an iterable of buffers, "
            f"not {type(dataset).__name__}"
        )


def _buffers_of(dataset: Any, window: int) -> Iterator[Any]:
    """The data set as an iterator of bytes-like pieces."""
    if isinstance(dataset, (bytes, bytearray, memoryview)):
        yield dataset
    elif hasattr(dataset, "read"):
        while True:
            chunk = dataset.read(window)
            if not chunk:
                return
            yield chunk
    else:
        yield from dataset


def _aligned(pieces: Iterable[Any], frag: int, window: int) -> Iterator[tuple[Any, bool]]:
    """(buffer, is_last) pairs: every buffer but the last is a non-empty multiple of frag,
    so fragment boundaries never fall inside a PDV. Copies at most frag bytes per input
    piece (to join a remainder with the next piece); everything else is a view."""
    window = max(frag, window - window % frag) if frag < window else frag
    held: Any = None  # an output buffer held back until we know whether more follows
    rem = bytearray()
    for piece in pieces:
        mv = memoryview(piece).cast("B")
        if not mv:
            continue
        if rem:
            need = frag - len(rem)
            rem += mv[:need]
            mv = mv[need:]
            if len(rem) < frag:
                continue
            if held is not None:
                yield held, False
            held, rem = bytes(rem), bytearray()
        whole = len(mv) - len(mv) % frag
        for off in range(0, whole, window):
            if held is not None:
                yield held, False
            held = mv[off : min(off + window, whole)]
        rem += mv[whole:]
    if rem:
        if held is not None:
            yield held, False
        held = bytes(rem)
    yield (held if held is not None else b""), True


class _Batches:
    """The iterator message_batches returns: ``close()`` (when the message is dropped)
    stops it and releases the data set source, as running to the end does."""

    __slots__ = ("_gen", "_dataset")

    def __init__(self, gen: Iterator[Buffers], dataset: Any) -> None:
        self._gen, self._dataset = gen, dataset

    def __iter__(self) -> _Batches:
        return self

    def __next__(self) -> Buffers:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()  # type: ignore[attr-defined]
        _release(self._dataset)


def _release(dataset: Any) -> None:
    """Tell a data set source that the sender is done with it (``sent()``, if it has
    one: a FileSource closes its file then)."""
    sent = getattr(dataset, "sent", None)
    if sent is not None:
        sent()


def message_batches(
    context_id: int,
    command: Any,
    dataset: Any,
    peer_max_length: int,
    window: int = DEFAULT_WINDOW,
    regions: bool = False,
) -> Iterator[Buffers]:
    """The P-DATA-TF PDUs of one DIMSE message, as lists of buffers of about ``window``
    bytes each (the command set first); see _message_batches."""
    return _Batches(
        _message_batches(context_id, command, dataset, peer_max_length, window, regions),
        dataset,
    )


def _data_limits(peer_max_length: int, window: int) -> tuple[int, int]:
    """(fragment size, PDU length limit) for a data set's PDVs: the peer's, or at most
    one ``window`` when the peer has no maximum (0) or a huge one (a peer announcing "no
    maximum" still has a limit, e.g. dicomul's 4 MiB)."""
    frag = fragment_size(peer_max_length)
    if frag + 6 > window:
        frag = max(2, (window - 6) & ~1)
        return frag, frag + 6
    return frag, peer_max_length


_BYTES_LIKE = (bytes, bytearray, memoryview)
#: The largest data set ready_message takes (larger ones go a window at a time).
READY_LIMIT = 256 * 1024


def ready_message(
    context_id: int, command: Any, dataset: Any, peer_max_length: int
) -> Buffers | None:
    """All the P-DATA-TF PDUs of a message whose data set is bytes-like and at most
    READY_LIMIT bytes, fragmented now into one list of buffers (views of ``dataset``,
    but for the last fragment of an odd-length one, copied to add its pad byte, as
    message_batches does): the same bytes as :func:`message_batches`, without its
    generator (a small C-STORE's usual case). None for any other data set (and for a
    view that cannot be cast to bytes: message_batches reports that, as before)."""
    if type(dataset) not in _BYTES_LIKE:
        return None
    try:
        mv = memoryview(dataset).cast("B")
    except (TypeError, ValueError):  # not C-contiguous, released: as before, see above
        return None
    if len(mv) > READY_LIMIT:
        return None
    frag, limit = _data_limits(peer_max_length, DEFAULT_WINDOW)
    out = fragment(context_id, True, command, peer_max_length)
    whole = len(mv) - len(mv) % frag
    if len(mv) % 2 and whole:  # odd: the whole fragments as views, only the tail copied
        out += fragment(context_id, False, mv[:whole], limit, False)
        mv = mv[whole:]
    out += fragment(context_id, False, _even(mv), limit)
    return out


def _message_batches(
    context_id: int,
    command: Any,
    dataset: Any,
    peer_max_length: int,
    window: int,
    regions: bool,
) -> Iterator[Buffers]:
    """The P-DATA-TF PDUs of one DIMSE message, as lists of buffers of about ``window``
    bytes each (the command set first). Raises ValueError if the peer's maximum length is
    too small to carry data (1..7). With ``regions``, a data set that offers
    ``file_region()`` (a Part 10 file's data set: a region with ``length`` and
    ``map(start, length)``, see storage.FileRegion) is mapped from the file a span at a
    time instead of read: the socket copies straight from the page cache, and the data
    never passes through Python (for plain sockets only)."""
    yield fragment(context_id, True, command, peer_max_length)
    if dataset is None:
        return
    frag, limit = _data_limits(peer_max_length, window)
    region = dataset.file_region() if regions and hasattr(dataset, "file_region") else None
    # (None: the source has no file under it after all; it is read as usual)
    if region is not None:
        step = max(frag, window - window % frag)  # fragments are whole PDVs but the last
        span = step * max(1, MAP_SPAN // step)  # mapped at once, handed out a step at a time
        try:
            first = region.map(0, min(span, region.length)) if region.length else None
        except OSError:  # a file system without mmap, or a file cut short: read it
            region = None  # (the reader reports a short file itself)
        else:
            yield from _region_batches(context_id, region, first, span, step, limit)
            _release(dataset)  # every span is mapped: the mappings hold the file now
            return
    for buf, last in _aligned(_buffers_of(dataset, window), frag, window):
        yield fragment(context_id, False, _even(buf) if last else buf, limit, last)
    _release(dataset)


def _even(last_piece: Any) -> Any:
    """The last piece of a data set, padded with one NUL byte if its length is odd.

    Every non-last fragment is a whole even fragment_size(), so the data set's length is
    odd exactly when its last piece is. An encoded data set is even by construction (every
    element value is), except a deflated one, which PS3.5 A.5 pads with a single trailing
    NUL for the same reason; receivers (DCMTK) abort on an odd fragment. So no odd
    fragment ever leaves dicomul."""
    if len(memoryview(last_piece).cast("B")) % 2 == 0:
        return last_piece
    return bytes(last_piece) + b"\x00"


def _region_batches(
    context_id: int, region: Any, first: Any, span: int, step: int, limit: int
) -> Iterator[Buffers]:
    """The data set PDUs of a file region, mapped ``span`` bytes at a time (``first``:
    the first span's view, mapped already) and handed out ``step`` bytes at a time."""
    total = region.length
    if total == 0:
        yield fragment(context_id, False, b"", limit, True)
        return
    for base in range(0, total, span):
        view = first if base == 0 else region.map(base, min(span, total - base))
        first = None
        for start in range(0, len(view), step):
            n = min(step, len(view) - start)
            last = base + start + n >= total
            piece = view[start : start + n]
            yield fragment(context_id, False, _even(piece) if last else piece, limit, last)


class AnnexEViolation(Exception):
    """Received PDVs break PS3.8 Annex E; the connection answers with a provider abort."""


NeedsDataset = Callable[[bytes], bool]
DatasetSink = Callable[[int, bytes], Any]


class Reassembler:
    """Gathers PDVs into whole messages, enforcing Annex E.

    ``accepted`` is the set of accepted presentation context IDs. ``needs_dataset(command)``
    says whether a data set follows a complete command set; the upper layer reads no DIMSE
    field, so this comes from above (``dicomul.dimse.messages.command_has_dataset``); None
    means no command set is followed by one; it must not raise. ``sink`` (optional) is
    called as ``sink(context_id, command_bytes)`` when a command set that is followed by a
    data set is complete; it returns a writable binary object to stream the data set into,
    or None to keep it in memory. A sink (or sink factory) that raises does not break the
    association: the rest of that data set is discarded and the message is delivered with
    the exception as its ``error`` (the DIMSE layer answers with a failure status). A sink
    left unfinished when the association ends is aborted (``discard()``).
    """

    __slots__ = ("accepted", "needs_dataset", "sink", "_ctx", "_cmd", "_cmd_done", "_parts",
                 "_out", "_error")  # fmt: skip

    def __init__(
        self,
        accepted: set[int],
        sink: DatasetSink | None = None,
        *,
        needs_dataset: NeedsDataset | None = None,
    ) -> None:
        self.accepted = accepted
        self.needs_dataset = needs_dataset
        self.sink = sink
        self._reset()

    def _reset(self) -> None:
        self._ctx: int | None = None
        self._cmd: bytes = b""
        self._cmd_done = False
        self._parts: list[Any] = []
        self._out: Any = None
        self._error: BaseException | None = None

    @property
    def in_progress(self) -> bool:
        """A message has begun and is not complete."""
        return self._ctx is not None

    def discard(self) -> None:
        """Drop a message in progress; its sink, if any, is aborted (or closed)."""
        out = self._out
        self._reset()
        if out is not None:
            _finish_sink(out)

    def accepts_whole(self, context_id: int) -> bool:
        """Whether a whole command set on ``context_id`` (one PDV with the command and
        last bits, see _core.whole_command) may go to :meth:`command` at once: no message
        in progress, context accepted."""
        return self._ctx is None and context_id in self.accepted

    def command(
        self, context_id: int, command: bytes
    ) -> tuple[int, bytes, Any, BaseException | None] | None:
        """A complete command set on ``context_id``: the whole message ``(context_id,
        command, None, None)`` when ``needs_dataset`` says no data set follows, else None
        (the message is in progress, its sink chosen now). Call it with no message in
        progress, on an accepted context (:meth:`accepts_whole`); :meth:`add` calls it
        for a command set that came in fragments."""
        needs = self.needs_dataset
        if needs is None or not needs(command):
            if self._ctx is not None:  # (from add(): the command came in fragments)
                self._reset()
            return context_id, command, None, None
        self._ctx, self._cmd, self._cmd_done = context_id, command, True
        if self.sink is not None:
            try:
                self._out = self.sink(context_id, command)
            except Exception as exc:  # noqa: BLE001 - reported with the message
                self._error = exc
        return None

    def add(
        self, context_id: int, control: int, data: Any
    ) -> tuple[int, bytes, Any, BaseException | None] | None:
        """Take one PDV; return ``(context_id, command, dataset, error)`` when it completes
        a message, else None. Raises AnnexEViolation."""
        if context_id not in self.accepted:
            raise AnnexEViolation(f"PDV on presentation context {context_id}, not accepted")
        is_command, is_last = control & 1, control & 2
        if self._ctx is None:
            if not is_command:
                raise AnnexEViolation(
                    "data set fragment with no message in progress (no command set before "
                    "it that is followed by a data set)"
                )
            self._ctx = context_id
        elif context_id != self._ctx:
            raise AnnexEViolation(
                f"PDV on context {context_id} interleaved with a message on {self._ctx}"
            )
        if is_command:
            if self._cmd_done:
                raise AnnexEViolation("command fragment after the last command fragment")
            self._parts.append(data)
            if not is_last:
                return None
            command = b"".join(self._parts)
            self._parts = []
            return self.command(context_id, command)
        if not self._cmd_done:
            raise AnnexEViolation("data set fragment before the last command fragment")
        if self._error is not None:
            pass  # the sink failed: the rest of this data set is discarded
        elif self._out is not None:
            try:
                self._out.write(data)
            except Exception as exc:  # noqa: BLE001 - e.g. disk full: reported, not fatal
                self._error = exc
                _finish_sink(self._out)
        else:
            self._parts.append(data)
        if not is_last:
            return None
        command, error = self._cmd, self._error
        dataset = self._out if self._out is not None else b"".join(self._parts)
        self._reset()
        return context_id, command, dataset, error


def _finish_sink(out: Any) -> None:
    """Abort (or else close) a sink whose data set will not be completed."""
    for name in ("abort", "close"):
        fn = getattr(out, name, None)
        if callable(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001 - best effort clean-up
                pass
            return
