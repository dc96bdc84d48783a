"""The asyncio API: one event loop serves every association of a process.

    from dicomul import aio

    async with await aio.connect("127.0.0.1", 11112, called_ae="STORESCP") as assoc:
        assert await assoc.echo() == 0

``connect`` and ``Association`` (the requestor), ``Server`` (the acceptor). The names are
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicomul._lazy import lazy_attributes

if TYPE_CHECKING:
    from dicomul.aio.association import Association, connect
    from dicomul.aio.server import Server

_NAMES = {
    "Association": "dicomul.aio.association",
    "connect": "dicomul.aio.association",
    "Server": "dicomul.aio.server",
}
__all__ = ["Association", "Server", "connect"]
__getattr__, __dir__ = lazy_attributes(__name__, _NAMES, globals())
