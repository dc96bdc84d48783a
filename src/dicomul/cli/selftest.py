"""``dicomul selftest``: every service against in-process servers on 127.0.0.1.

Starts a Q/R + storage SCP ("SELFTEST") and a move destination ("SELFTEST-B"), then runs
echo, store (sample files that pydicom ships, compressed ones included), find, get and
move through them, checks that every object arrived byte for byte (the data set after the
file meta identical to the source file's), and prints a short table. Needs nothing but
dicomul and pydicom.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

SAMPLES = (
    "CT_small.dcm",  # CT, Explicit VR Little Endian
    "MR_small.dcm",  # MR, Explicit VR Little Endian
    "rtplan.dcm",  # RT Plan, Implicit VR Little Endian
    "SC_rgb_jpeg_dcmtk.dcm",  # Secondary Capture, JPEG Baseline (compressed)
    "MR_small_RLE.dcm",  # MR, RLE Lossless (compressed)
)


def sample_files() -> list[Path]:
    """The sample files shipped inside pydicom (no download)."""
    import pydicom

    base = Path(pydicom.__file__).parent / "data" / "test_files"
    return [base / name for name in SAMPLES if (base / name).is_file()]


def _dataset_bytes(path: Path) -> bytes:
    from dicomul.storage.part10 import read_part10

    p10 = read_part10(path)
    with open(path, "rb") as f:
        f.seek(p10.dataset_offset)
        return f.read(p10.dataset_length)


class _Archive:
    """What the SCP has stored, indexed for the Q/R handlers."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.glob("*.dcm") if p.is_file())

    def matches(self, identifier: Any) -> Iterator[tuple[Path, Any]]:
        import pydicom

        for path in self.files():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            if all(
                not elem.value or ds.get(elem.tag) is not None and ds[elem.tag].value == elem.value
                for elem in identifier
                if elem.tag != 0x00080052  # QueryRetrieveLevel
            ):
                yield path, ds

    def on_find(self, identifier: Any, _model: str) -> Iterable[tuple[int, Any]]:
        from pydicom.dataset import Dataset

        for _path, ds in self.matches(identifier):
            out = Dataset()
            out.QueryRetrieveLevel = identifier.get("QueryRetrieveLevel", "STUDY")
            for elem in identifier:
                if elem.tag != 0x00080052:
                    out.add_new(
                        elem.tag, elem.VR, ds.get(elem.tag).value if elem.tag in ds else None
                    )
            yield 0xFF00, out

    def on_retrieve(self, identifier: Any, *_rest: Any) -> Iterable[Path]:
        return [path for path, _ds in self.matches(identifier)]


def _row(name: str, ok: bool, detail: str, seconds: float) -> tuple[str, str, str, str]:
    return name, "ok" if ok else "FAILED", detail, f"{seconds * 1000:.0f} ms"


def run_selftest(verbose: bool = False) -> int:
    """Run the self test; print the table; 0 if every step passed, 1 otherwise."""
    from pydicom.dataset import Dataset

    from dicomul.dimse.sop import STORAGE_SOP_CLASSES
    from dicomul.sync.server import Server
    from dicomul.sync.services import Association, contexts_for_files, qr_contexts

    files = sample_files()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="dicomul-selftest-") as tmp:
        root = Path(tmp)
        dirs = {k: root / k for k in ("scp", "get", "move")}
        for d in dirs.values():
            d.mkdir()
        archive = _Archive(dirs["scp"])
        dest = Server("SELFTEST-B", accept_all_storage=True, store_dir=dirs["move"])
        dest_port = dest.start("127.0.0.1", 0)
        scp = Server(
            "SELFTEST",
            accept_all_storage=True,
            store_dir=dirs["scp"],
            on_find=archive.on_find,
            on_get=archive.on_retrieve,
            on_move=archive.on_retrieve,
            move_destinations={"SELFTEST-B": ("127.0.0.1", dest_port)},
        )
        port = scp.start("127.0.0.1", 0)
        kw: dict[str, Any] = dict(
            calling_ae="SELFTEST-SCU", called_ae="SELFTEST", acse_timeout=30, dimse_timeout=60
        )
        try:
            rows.append(_step("C-ECHO", lambda: _echo(Association, port, kw)))
            rows.append(
                _step(
                    "C-STORE",
                    lambda: _store(Association, port, kw, files, contexts_for_files, archive),
                )
            )
            query = Dataset()
            query.QueryRetrieveLevel = "PATIENT"
            query.PatientID = ""
            query.PatientName = ""
            ct = Dataset()
            ct.QueryRetrieveLevel = "IMAGE"
            ct.Modality = "CT"
            rows.append(
                _step(
                    "C-FIND", lambda: _find(Association, port, kw, query, qr_contexts, len(files))
                )
            )
            # (every sample has its own patient: one match per stored object expected)
            storage = [
                (uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
                for uid in sorted(STORAGE_SOP_CLASSES)[:100]
            ]
            rows.append(
                _step(
                    "C-GET",
                    lambda: _retrieve(
                        Association, port, kw, "get", ct, qr_contexts, storage, dirs["get"], archive
                    ),
                )
            )
            rows.append(
                _step(
                    "C-MOVE",
                    lambda: _retrieve(
                        Association, port, kw, "move", ct, qr_contexts, [], dirs["move"], archive
                    ),
                )
            )
        finally:
            scp.stop()
            dest.stop()
    width = min(max(len(r[2]) for r in rows), 60)
    print(f"dicomul selftest ({len(files)} sample objects from pydicom)")
    for name, result, detail, took in rows:
        short = detail if len(detail) <= width else detail[: width - 3] + "..."
        print(f"  {name:<8} {result:<6} {short:<{width}}  {took:>8}")
    for name, result, detail, _took in rows:
        if result != "ok" and len(detail) > width:
            print(f"  {name}: {detail}")
    failed = [r for r in rows if r[1] != "ok"]
    print("selftest passed" if not failed else f"selftest FAILED: {len(failed)} step(s)")
    del verbose
    return 0 if not failed else 1


def _step(name: str, fn: Callable[[], tuple[bool, str]]) -> tuple[str, str, str, str]:
    t0 = time.perf_counter()
    try:
        ok, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a self test reports, it does not crash
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return _row(name, ok, detail, time.perf_counter() - t0)


def _echo(assoc_cls: Any, port: int, kw: dict[str, Any]) -> tuple[bool, str]:
    with assoc_cls.connect("127.0.0.1", port, **kw) as assoc:
        status = assoc.echo()
    return status == 0, f"status 0x{status:04X}"


def _store(
    assoc_cls: Any,
    port: int,
    kw: dict[str, Any],
    files: list[Path],
    contexts_for_files: Any,
    archive: _Archive,
) -> tuple[bool, str]:
    statuses = []
    with assoc_cls.connect("127.0.0.1", port, contexts=contexts_for_files(files), **kw) as assoc:
        for f in files:
            statuses.append(assoc.store(f))
    same = _same_objects(files, archive.files())
    ok = all(s == 0 for s in statuses) and same == len(files)
    return ok, f"{same}/{len(files)} objects stored byte for byte"


def _find(
    assoc_cls: Any, port: int, kw: dict[str, Any], query: Any, qr_contexts: Any, expected: int
) -> tuple[bool, str]:
    n, final = 0, None
    with assoc_cls.connect(
        "127.0.0.1", port, contexts=qr_contexts(["patient"], ["find"]), **kw
    ) as assoc:
        for status, ds in assoc.find(query, "patient"):
            if status in (0xFF00, 0xFF01) and ds is not None:
                n += 1
            else:
                final = status
    return final == 0 and n == expected, f"{n} matches, final status 0x{final or 0:04X}"


def _retrieve(
    assoc_cls: Any,
    port: int,
    kw: dict[str, Any],
    op: str,
    query: Any,
    qr_contexts: Any,
    storage: list[Any],
    out: Path,
    archive: _Archive,
) -> tuple[bool, str]:
    contexts = qr_contexts(["study"], [op]) + storage
    final = None
    with assoc_cls.connect("127.0.0.1", port, contexts=contexts, **kw) as assoc:
        responses = (
            assoc.get(query, "study", output_dir=str(out))
            if op == "get"
            else assoc.move(query, "SELFTEST-B", "study")
        )
        for _status, rsp in responses:
            final = rsp
    wanted = [p for p, _ds in archive.matches(query)]
    same = _same_objects(wanted, sorted(out.glob("*.dcm")))
    status = getattr(final, "status", None)
    ok = status == 0 and same == len(wanted) and len(wanted) > 0
    return ok, f"{same}/{len(wanted)} objects retrieved byte for byte"


def _same_objects(sources: list[Path], received: list[Path]) -> int:
    """How many of ``sources`` have a received file with the identical data set bytes."""
    got = {_dataset_bytes(p) for p in received}
    return sum(1 for p in sources if _dataset_bytes(p) in got)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_selftest(verbose="-v" in sys.argv))
