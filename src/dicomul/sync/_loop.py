"""The process's event loop for the blocking API: one daemon thread runs an asyncio loop,
and blocking calls hand it coroutines (``run``). Every blocking Server of the process
shares it, so connections and associations cost no thread of their own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["loop", "run"]

T = TypeVar("T")
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    """The loop (started on first use, in a daemon thread named dicomul-loop)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            ready = threading.Event()
            new = asyncio.new_event_loop()

            def main() -> None:
                asyncio.set_event_loop(new)
                ready.set()
                new.run_forever()

            threading.Thread(target=main, name="dicomul-loop", daemon=True).start()
            ready.wait()
            _loop = new
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the loop and wait (up to ``timeout`` seconds) for its result;
    from the loop's own thread this would deadlock, so it raises RuntimeError there."""
    target = loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is target:
        coro.close()
        raise RuntimeError("a blocking dicomul call from the event loop's own thread")
    return asyncio.run_coroutine_threadsafe(coro, target).result(timeout)
