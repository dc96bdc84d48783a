"""``dicomul store`` (the CLI, in a subprocess) of pydicom's sample files to real storage
SCPs on 127.0.0.1, every object checked on arrival:

1. DCMTK storescp with its defaults: uncompressed syntaxes only (explicit VR LE and BE,
   implicit VR LE). dicomul proposes each compressed (and the deflated) file's own syntax
   plus [Explicit VR LE, Implicit VR LE]; storescp accepts only the latter, so dicomul
   transcodes: decompresses with pydicom and the codecs extra (or inflates) and sends
   Explicit VR LE.
2. storescp ``+xa`` (accepts every syntax it supports): everything arrives as it is.
3. a pynetdicom storage SCP in this process: StoragePresentationContexts with
   [Explicit VR LE, Implicit VR LE, the JPEG, JPEG-LS, JPEG 2000 and RLE syntaxes].
   pynetdicom (presentation.negotiate_as_acceptor) accepts, of a proposed context's
   syntaxes, the first in *its own* list that was proposed: it prefers uncompressed.
   dicomul proposes a compressed file's syntax in a context of its own, which pynetdicom
   accepts, so compressed files still go as they are; Explicit VR BE and Deflated are
   not in its list, so those are re-encoded into Explicit VR LE (pydicom, no codecs).

One ``dicomul store 127.0.0.1 PORT DIR -aec STORESCP`` per peer; exit 0 and "N of N
objects sent". Per object, keyed by the data set's SOP Instance UID: it arrived once; in
the file's own syntax, its data set decodes to the same elements (pynetdicom: the very
bytes of the file's data set); in another, its pixels decode to the same array and its
UIDs are kept; pynetdicom: the command's Affected SOP Instance UID is the data set's
(storescp checks that itself and answers 0xA900 otherwise, so exit 0 proves it there).

And with the codecs extra hidden in the subprocess, ``dicomul store`` to storescp
(defaults) fails each compressed file naming "dicomul[codecs]", sends the rest, exit 1.

The files (:func:`_choose`): the Part 10 files of pydicom's data/test_files (never
pydicom's get_testdata_files: it may go to the network) whose data set has SOP Class and
Instance UIDs and which dicomul reads, from the list :data:`CANDIDATES`, one per data-set
SOP Instance UID (MR_small*, SC_rgb_*rle*, rtdose_* ... share one), the combination that
covers the most transfer syntaxes: all that the folder holds, but for storescp +xa (see
AS_IS_DCMTK_MISSING). Only files expected to arrive are chosen (:func:`_usable`): a file
that would be transcoded for a peer is left out if pydicom itself cannot decode its
pixel data (JPEG-lossy.dcm, JPEG2000-embedded-sequence-delimiter.dcm: their decodable
twins of the same UID go instead; the peers that take them as they are get them), and
rtdose_rle.dcm (every element coded UN) is not sent as it is to storescp, which cannot
find its SOP UIDs; transcoded, it arrives.

Every process runs with TCP_NODELAY=1 and is stopped by its PID (conftest ``procs``);
every wait has a timeout; nothing sleeps.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest

pynetdicom = pytest.importorskip("pynetdicom")
np = pytest.importorskip("numpy")

import pydicom  # noqa: E402
from pydicom import uid as pu  # noqa: E402
from pynetdicom import AE, StoragePresentationContexts, evt  # noqa: E402

import dicomul  # noqa: E402
from dicomul.storage.part10 import FileMeta, StorageError, read_part10  # noqa: E402
from dicomul.storage.writer import encode_file_meta  # noqa: E402
from dicomul.sync.services import Association, verification_contexts  # noqa: E402

from . import capture_dcmtk as cap  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

T = 10.0  # every network timeout
RUN_T = 30.0  # one whole `dicomul store` run
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"

IMPLICIT, EXPLICIT = pu.ImplicitVRLittleEndian, pu.ExplicitVRLittleEndian
BIG, DEFLATED = pu.ExplicitVRBigEndian, pu.DeflatedExplicitVRLittleEndian
UNCOMPRESSED = {IMPLICIT, EXPLICIT, BIG, DEFLATED}
#: What pynetdicom's SCP supports, in its order of preference.
PYNETDICOM_SYNTAXES = [
    EXPLICIT,
    IMPLICIT,
    *pu.JPEGTransferSyntaxes,
    *pu.JPEGLSTransferSyntaxes,
    *pu.JPEG2000TransferSyntaxes,
    pu.RLELossless,
]
#: What storescp accepts: with its defaults the three native syntaxes; with +xa all the
#: sample files' syntaxes (DCMTK 3.6.7 supports every one of them).
STORESCP_DEFAULT = {EXPLICIT, BIG, IMPLICIT}

#: In order of preference: where two share a data-set SOP Instance UID, the first that
#: fits the peer is sent (an undecodable file first, so that the peers taking it as it is
#: get it, and its decodable twin goes where it must be transcoded).
CANDIDATES = (
    # Implicit VR LE; rtplan.dcm's file meta names another SOP Instance UID than its data
    # set (1.2.999... vs 1.2.777...): dicomul must send the data set's
    "rtplan.dcm",
    "SC_rgb_jpeg_dcmd.dcm",
    # Explicit VR LE: CT, palette colour, an SR (no pixels), an ECG (waveform), a 1-bit
    # segmentation
    "CT_small.dcm",
    "examples_palette.dcm",
    "reportsi.dcm",
    "waveform_ecg.dcm",
    "liver_1frame.dcm",
    # Explicit VR BE (storescp accepts it; pynetdicom's list does not: re-encoded)
    "ExplVR_BigEnd.dcm",
    "SC_rgb_small_odd_big_endian.dcm",
    # Deflated Explicit VR LE
    "image_dfl.dcm",
    # JPEG Baseline (colour YBR_FULL_422, no colour transform, odd size, multi-frame YBR)
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_jpeg_no_color_transform.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "examples_ybr_color.dcm",
    # JPEG Extended (pydicom cannot decode JPEG-lossy.dcm; JPGExtended.dcm is its twin)
    "JPEG-lossy.dcm",
    "JPGExtended.dcm",
    # JPEG Lossless SV1 (the only one: it shares its UID with the SC_rgb_rle* files)
    "SC_rgb_jpeg_gdcm.dcm",
    # RLE Lossless, and JPEG-LS Lossless (the only one), both with MR_small.dcm's UID
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    # JPEG-LS Near-Lossless
    "JPEGLSNearLossless_16.dcm",
    "SC_rgb_jls_lossy_line.dcm",
    # JPEG 2000 Lossless
    "GDCMJ2K_TextGBR.dcm",
    "examples_jpeg2k.dcm",
    "J2K_pixelrep_mismatch.dcm",
    # JPEG 2000 (pydicom cannot decode JPEG2000-embedded-sequence-delimiter.dcm)
    "JPEG2000-embedded-sequence-delimiter.dcm",
    "JPEG2000.dcm",
    "693_J2KI.dcm",
    "SC_rgb_gdcm_KY.dcm",
    # RLE Lossless, every element coded UN (see _usable)
    "rtdose_rle.dcm",
)


# ---- the sample files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    path: Path
    ts: str
    sop_class: str
    uid: str  # the data set's SOP Instance UID: what the C-STORE must carry
    decodes: bool  # pydicom decodes its pixel data (or it has none)
    un_uids: bool  # its SOP Class or Instance UID is coded with VR UN (explicit VR)


def _decodes(ds) -> bool:
    if "PixelData" not in ds:
        return True
    try:
        _ = ds.pixel_array
    except Exception:  # noqa: BLE001 - pydicom and the plugins raise many kinds
        return False
    return True


def _scan() -> dict[str, Sample]:
    """Every Part 10 file of the folder with SOP UIDs in its data set that dicomul reads
    (``decodes`` is found out for the candidates only)."""
    out = {}
    for p in sorted(TEST_FILES.iterdir()):
        if not p.is_file():
            continue
        with open(p, "rb") as f:
            if f.read(132)[128:132] != b"DICM":
                continue
        try:
            meta = read_part10(p).meta  # dicomul refuses some (e.g. no transfer syntax)
            ds = pydicom.dcmread(p, stop_before_pixels=p.name not in CANDIDATES)
        except (StorageError, Exception):  # noqa: BLE001 - pydicom raises many kinds
            continue
        # (before anything reads them: reading gives an element its dictionary VR)
        un = any(getattr(ds.get_item(t), "VR", None) == "UN" for t in (0x00080016, 0x00080018))
        if not (ds.get("SOPClassUID") and ds.get("SOPInstanceUID")):  # DICOMDIRs, ...
            continue
        decodes = _decodes(ds) if p.name in CANDIDATES else False
        out[p.name] = Sample(
            p, meta.transfer_syntax, str(ds.SOPClassUID), str(ds.SOPInstanceUID), decodes, un
        )
    return out


@pytest.fixture(scope="module")
def samples() -> dict[str, Sample]:
    found = _scan()
    missing = [n for n in CANDIDATES if n not in found]
    assert not missing, f"not in {TEST_FILES} (or not sendable): {missing}"
    return found


def _usable(s: Sample, accepted: set[str], dcmtk: bool) -> bool:
    """Expected to arrive: a file the peer makes dicomul transcode only if pydicom decodes
    its pixels; for storescp, not one with SOP UIDs coded UN (rtdose_rle*.dcm, gdcmconv)
    that goes as it is: storescp (without +uc) does not find (0008,0016) as UI and answers
    0xC000 ("bad DICOM file"), the file's doing. Transcoded, it arrives: dicomul gives
    UN elements their dictionary VR when it writes a data set anew."""
    if s.ts not in accepted:
        return s.decodes
    return not (dcmtk and s.un_uids)


def _choose(samples: dict[str, Sample], accepted: set[str], dcmtk: bool = False) -> list[Sample]:
    """For a peer accepting ``accepted``: one usable candidate per data-set SOP Instance
    UID, the combination covering the most transfer syntaxes (ties: earliest in
    CANDIDATES), in CANDIDATES order."""
    groups: dict[str, list[Sample]] = {}
    for name in CANDIDATES:
        s = samples[name]
        groups.setdefault(s.uid, [])
        if _usable(s, accepted, dcmtk):
            groups[s.uid].append(s)
    options = [g for g in groups.values() if g]
    order = {name: i for i, name in enumerate(CANDIDATES)}
    best = max(
        itertools.product(*options),
        key=lambda c: (len({s.ts for s in c}), [-order[s.path.name] for s in c]),
    )
    return sorted(best, key=lambda s: order[s.path.name])


def _missing(files: list[Sample], samples: dict[str, Sample]) -> set[str]:
    """The transfer syntaxes of the folder's sendable files that ``files`` do not cover."""
    return {s.ts for s in samples.values()} - {s.ts for s in files}


#: For storescp +xa (everything as it is), with rtdose_rle*.dcm out (UN-coded SOP UIDs),
#: RLE Lossless is only in MR_small_RLE.dcm and the SC_rgb_rle* files, which share their
#: SOP Instance UIDs with the only JPEG-LS Lossless and JPEG Lossless files: no choice
#: covers all; MR_small_RLE.dcm goes, and JPEG-LS stays covered by the near-lossless files.
AS_IS_DCMTK_MISSING = {pu.JPEGLSLossless}


def _expected_ts(s: Sample, accepted: set[str]) -> str:
    """In its own syntax if the peer accepts it, else re-encoded or transcoded into
    Explicit VR LE (dicomul's first choice, which every peer here accepts)."""
    return s.ts if s.ts in accepted else EXPLICIT


def _stage(files: list[Sample], directory: Path) -> Path:
    directory.mkdir()
    for s in files:
        shutil.copy(s.path, directory / s.path.name)
    return directory


# ---- running dicomul --------------------------------------------------------------------


def _cli_env() -> dict[str, str]:
    """TCP_NODELAY=1, and the dicomul under test on PYTHONPATH when it is the source tree
    (as tests/test_cli.py does)."""
    env = cap._env()
    pkg = Path(dicomul.__file__).resolve().parent
    src = Path(__file__).resolve().parents[2] / "src"
    if pkg.parent == src:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    return env


def _store_argv(port: int, directory: Path) -> list[str]:
    return [
        "store",
        "127.0.0.1",
        str(port),
        str(directory),
        "-aec",
        "STORESCP",
        "-to",
        str(T),
        "-ta",
        str(T),
        "-td",
        str(T),
    ]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=RUN_T,
        env=_cli_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def dicomul_store(port: int, directory: Path, cwd: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "dicomul", *_store_argv(port, directory)], cwd)


#: Hides the codecs extra: find_spec of these top-level names raises ModuleNotFoundError,
#: so `import numpy` fails and dicomul.storage.transcode.codecs_available() says "not installed".
BLOCKER = """\
import sys
class _HideCodecs:
    names = {"numpy", "pylibjpeg", "libjpeg", "openjpeg", "rle"}
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
        return None
sys.meta_path.insert(0, _HideCodecs())
"""


def dicomul_store_without_codecs(port: int, directory: Path, cwd: Path):
    code = (
        BLOCKER + "from dicomul.cli.commands import main\n"
        f"raise SystemExit(main({_store_argv(port, directory)!r}))\n"
    )
    return _run([sys.executable, "-c", code], cwd)


def _sent(r: subprocess.CompletedProcess, sent: int, total: int, failed: int) -> None:
    m = re.search(r"C-STORE: (\d+) of (\d+) objects sent.*; (\d+) failed", r.stdout)
    assert m, r.stdout + r.stderr
    assert tuple(map(int, m.groups())) == (sent, total, failed), r.stdout + r.stderr


# ---- the peers ----------------------------------------------------------------------------


@dataclass
class Received:
    ts: str
    ds: pydicom.Dataset  # decoded, with file_meta.TransferSyntaxUID set
    command_uid: str | None = None  # Affected SOP Instance UID of the C-STORE-RQ
    raw: bytes | None = None  # the data set bytes as received


def _wait_listening(proc: subprocess.Popen, port: int) -> None:
    """storescp listens once a C-ECHO goes through: a refused connection is retried, each
    retry paced by a timed wait on the process (which notices it dying)."""
    deadline = time.monotonic() + T
    while True:
        try:
            with Association.connect(
                "127.0.0.1",
                port,
                called_ae="STORESCP",
                contexts=verification_contexts(),
                connect_timeout=T,
                acse_timeout=T,
                dimse_timeout=T,
            ) as assoc:
                assert assoc.echo() == 0
            return
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "storescp does not listen"
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(
                f"storescp exited with {proc.returncode}: {cap._stop(proc)}"
            ) from None


def _storescp(dcmtk, procs, port: int, out: Path, *extra: str) -> subprocess.Popen:
    out.mkdir()
    proc = procs(
        [
            dcmtk("storescp"),
            *extra,
            "-od",
            str(out),
            "-uf",
            "-aet",
            "STORESCP",
            "-ta",
            "10",
            "-td",
            "10",
            str(port),
        ]
    )
    _wait_listening(proc, port)
    return proc


def _read_storescp(out: Path) -> list[Received]:
    got = []
    for p in sorted(out.iterdir()):
        ds = pydicom.dcmread(p)
        got.append(Received(str(ds.file_meta.TransferSyntaxUID), ds))
    return got


@pytest.fixture
def pynetdicom_scp():
    """A pynetdicom storage SCP on a free port: ``start() -> (port, received list)``."""
    servers = []

    def start():
        received: list[Received] = []
        lock = threading.Lock()

        def on_store(event):
            ts = str(event.context.transfer_syntax)
            ds = event.dataset  # decoded by pynetdicom in the context's syntax
            ds.file_meta = event.file_meta
            with lock:
                received.append(
                    Received(
                        ts,
                        ds,
                        str(event.request.AffectedSOPInstanceUID),
                        event.request.DataSet.getvalue(),
                    )
                )
            return 0x0000

        ae = AE(ae_title="STORESCP")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = T
        for cx in StoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, PYNETDICOM_SYNTAXES)
        port = cap._free_port()
        servers.append(
            ae.start_server(
                ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
            )
        )
        return port, received

    yield start
    for s in servers:
        s.shutdown()


# ---- the checks ---------------------------------------------------------------------------

PAD = 0xFFFCFFFC  # Data Set Trailing Padding: DCMTK drops it when it re-encodes (no +B)


#: What a change of syntax may change besides the pixel data: decompressed colour JPEG
#: comes out RGB (Photometric Interpretation, Planar Configuration), a decompressed lossy
#: image is marked so (Lossy Image Compression).
_REENCODED = frozenset({0x7FE00010, 0x00280004, 0x00280006, 0x00282110})


def _elements(ds, skip=frozenset()) -> list:
    """The elements to compare but ``skip``: (tag, VR, value), the data set trailing
    padding and the retired group lengths left out;
    encapsulated Pixel Data compares as OB whatever VR it was read with (PS3.5 A.4: it is
    OB; storescp writes OB where the original said OW)."""
    out = []
    for e in ds:
        # (group lengths: storescp recomputes them)
        if e.tag == PAD or e.tag.element == 0 or e.tag in skip:
            continue
        encapsulated = e.tag == 0x7FE00010 and getattr(e, "is_undefined_length", False)
        vr = "OB" if encapsulated else e.VR
        out.append((e.tag, vr, e.value))
    return out


def _decode_part10(raw: bytes, s: Sample, ts: str) -> pydicom.Dataset:
    return pydicom.dcmread(BytesIO(encode_file_meta(FileMeta(ts, s.sop_class, s.uid)) + raw))


def check_arrived(received: list[Received], sent: list[Sample], accepted: set[str]) -> dict:
    """Every object arrived once and equal (see the module docstring); returns
    {file name: transfer syntax it arrived in}."""
    counts = Counter(str(r.ds.SOPInstanceUID) for r in received)
    assert len(received) == len(sent), (len(received), len(sent))
    assert counts == Counter(s.uid for s in sent), counts
    by_uid = {str(r.ds.SOPInstanceUID): r for r in received}
    arrived = {}
    for s in sent:
        r, what = by_uid[s.uid], s.path.name
        arrived[what] = r.ts
        assert r.ts == _expected_ts(s, accepted), (what, s.ts, r.ts)
        original = pydicom.dcmread(s.path)
        assert r.ds.SOPClassUID == original.SOPClassUID == s.sop_class, what
        assert r.ds.SOPInstanceUID == original.SOPInstanceUID == s.uid, what
        if r.command_uid is not None:  # the command names the data set's own instance
            assert r.command_uid == s.uid, (what, r.command_uid)
        if r.ts == s.ts:  # as it is
            if r.raw is not None:
                assert r.raw == read_part10(s.path).read_dataset_bytes(), what
            assert _elements(r.ds) == _elements(original), what
            assert r.ds.get("PixelData") == original.get("PixelData"), what
        else:  # transcoded: the same pixels
            if r.raw is not None:  # the bytes decode in the syntax they came in
                assert _elements(_decode_part10(r.raw, s, r.ts)) == _elements(r.ds), what
            if "PixelData" in original:
                assert np.array_equal(r.ds.pixel_array, original.pixel_array), what
            # and the other attributes, but those that describe the pixels' encoding
            assert _elements(r.ds, _REENCODED) == _elements(original, _REENCODED), what
    return arrived


# ---- the tests ------------------------------------------------------------------------------


def test_store_to_storescp_defaults_transcodes(dcmtk, procs, free_port, tmp_path, samples):
    """storescp without options accepts uncompressed syntaxes only: the compressed and
    deflated files arrive decompressed (inflated) in Explicit VR LE, the rest as is."""
    files = _choose(samples, STORESCP_DEFAULT, dcmtk=True)
    assert not _missing(files, samples)  # every transfer syntax of the folder
    src = _stage(files, tmp_path / "in")
    _storescp(dcmtk, procs, free_port, tmp_path / "out")
    r = dicomul_store(free_port, src, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    _sent(r, len(files), len(files), 0)
    arrived = check_arrived(_read_storescp(tmp_path / "out"), files, STORESCP_DEFAULT)
    assert {n for n, ts in arrived.items() if ts != samples[n].ts} == {
        s.path.name for s in files if s.ts not in STORESCP_DEFAULT
    }


def test_store_to_storescp_accept_all_as_is(dcmtk, procs, free_port, tmp_path, samples):
    """storescp +xa accepts every syntax proposed: every file arrives in its own."""
    accepted = {s.ts for s in samples.values()}
    # rtdose_rle.dcm encodes every element as UN (gdcmconv): sent as it is, byte for
    # byte, storescp does not find its (0008,0016) as UI and answers 0xC000 ("bad DICOM
    # file"), which is the file's doing; transcoded (the test above) it arrives.
    files = _choose(samples, accepted, dcmtk=True)
    assert "rtdose_rle.dcm" not in {s.path.name for s in files}
    assert _missing(files, samples) == AS_IS_DCMTK_MISSING
    src = _stage(files, tmp_path / "in")
    _storescp(dcmtk, procs, free_port, tmp_path / "out", "+xa")
    r = dicomul_store(free_port, src, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    _sent(r, len(files), len(files), 0)
    arrived = check_arrived(_read_storescp(tmp_path / "out"), files, accepted)
    assert all(arrived[s.path.name] == s.ts for s in files)


def test_store_to_pynetdicom_preferring_uncompressed(pynetdicom_scp, tmp_path, samples):
    accepted = set(PYNETDICOM_SYNTAXES)
    files = _choose(samples, accepted)
    assert not _missing(files, samples)  # every transfer syntax of the folder
    assert {s.sop_class for s in files} <= {c.abstract_syntax for c in StoragePresentationContexts}
    src = _stage(files, tmp_path / "in")
    port, received = pynetdicom_scp()
    r = dicomul_store(port, src, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    _sent(r, len(files), len(files), 0)
    arrived = check_arrived(list(received), files, accepted)
    # compressed files as they are (own context); big endian and deflated re-encoded
    assert {n for n, ts in arrived.items() if ts != samples[n].ts} == {
        s.path.name for s in files if s.ts in (BIG, DEFLATED)
    }


def test_store_without_codecs_fails_compressed_only(dcmtk, procs, free_port, tmp_path, samples):
    """The codecs extra hidden: storescp (defaults) accepts none of the compressed files'
    syntaxes and dicomul cannot transcode them: each fails naming "dicomul[codecs]"; the
    uncompressed ones (deflated and big endian included) are still sent; exit status 1."""
    files = _choose(samples, STORESCP_DEFAULT, dcmtk=True)
    plain = [s for s in files if s.ts in UNCOMPRESSED]
    compressed = [s for s in files if s.ts not in UNCOMPRESSED]
    assert plain and compressed
    src = _stage(files, tmp_path / "in")
    _storescp(dcmtk, procs, free_port, tmp_path / "out")
    r = dicomul_store_without_codecs(free_port, src, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    _sent(r, len(plain), len(files), len(compressed))
    failed = [line for line in r.stderr.splitlines() if line.startswith("  failed: ")]
    assert len(failed) == len(compressed), r.stderr
    for s in compressed:
        line = next((x for x in failed if f"{src / s.path.name}:" in x), None)
        assert line is not None, (s.path.name, r.stderr)
        assert "dicomul[codecs]" in line, line
    check_arrived(_read_storescp(tmp_path / "out"), plain, STORESCP_DEFAULT)
