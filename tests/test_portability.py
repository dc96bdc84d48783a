"""Portability: the transfer paths with the Linux-only names hidden, as on Windows (and
some on macOS): ``socket.MSG_DONTWAIT``, ``os.eventfd``, ``select.poll``,
``socket.SO_REUSEPORT``, ``socket.SO_RCVLOWAT``. A subprocess hides them before
importing dicomul, then runs the blocking and the asyncio API through echo and store,
and a 32 MiB store (many reads)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

pytestmark = pytest.mark.timeout(120)

CT = str(Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm")

CODE = """
import asyncio, os, select, socket, sys
for mod, name in ((socket, "MSG_DONTWAIT"), (os, "eventfd"), (select, "poll"),
                  (socket, "SO_REUSEPORT"), (socket, "SO_RCVLOWAT")):
    if hasattr(mod, name):
        delattr(mod, name)
from dicomul import aio
from dicomul.cli.storescp import reuse_port_supported
from dicomul.storage.contexts import contexts_for_files, storage_contexts, verification_contexts
from dicomul.sync import Association, Server

ct, out = sys.argv[1], sys.argv[2]
big = (b"\\x00" * (32 << 20), "1.2.840.10008.1.2", "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4")
ctx = verification_contexts() + contexts_for_files([ct])
ctx += storage_contexts(["1.2.840.10008.5.1.4.1.1.7"], ["1.2.840.10008.1.2"])
srv = Server("SCP", accept_all_storage=True, store_dir=out + "/sync")
port = srv.start("127.0.0.1", 0)
with Association.connect("127.0.0.1", port, called_ae="SCP", contexts=ctx, max_pdu=0,
                         acse_timeout=30, dimse_timeout=30) as a:
    print("sync", a.echo(), a.store(ct), a.store(big))
srv.stop()

async def main():
    s = aio.Server("SCP", accept_all_storage=True, store_dir=out + "/aio", max_pdu=0)
    p = await s.start("127.0.0.1", 0)
    async with await aio.connect("127.0.0.1", p, called_ae="SCP", contexts=ctx,
                                 acse_timeout=30, dimse_timeout=30, max_pdu=0) as a:
        print("aio", await a.echo(), await a.store(ct), await a.store(big))
    await s.close()

asyncio.run(main())
print("reuse_port", reuse_port_supported())
"""


def test_transfer_paths_without_linux_only_names(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CODE, CT, str(tmp_path)], capture_output=True,
                         text=True, timeout=100)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["sync 0 0 0", "aio 0 0 0", "reuse_port False"]
    for api in ("sync", "aio"):
        assert (tmp_path / api / "1.2.3.4.dcm").stat().st_size > 32 << 20
        assert len(list((tmp_path / api).glob("*.dcm"))) == 2


@pytest.mark.parametrize("bind", ["::", "::1"])
def test_storescp_listens_on_ipv6(bind: str, tmp_path: Path) -> None:
    """``--bind ::`` is dual-stack where the system allows (IPv4 and IPv6 requestors);
    ``--bind ::1`` takes IPv6 loopback."""
    import re
    import signal
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicomul", "storescp", "0", "--bind", bind, "--workers", "1",
         "-od", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"listening on .*:(\d+),", line)
        if m is None and "cannot listen" in line:
            pytest.skip(f"{bind} cannot be bound here: {line}")
        assert m, line
        hosts = ["::1"] + (["127.0.0.1"] if bind == "::" and socket.has_dualstack_ipv6() else [])
        for host in hosts:
            out = subprocess.run([sys.executable, "-m", "dicomul", "echo", host, m.group(1)],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
            assert out.returncode == 0, (host, out.stdout, out.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
