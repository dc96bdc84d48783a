"""The C-STORE UID policy (dicomul.dimse.uids, PS3.5 9.1), the same in both roles: the
validator; a dicomul Server answering 0x0117 (0x0122 for the class UID) to a raw sender
that bypasses the check, storing nothing and going on; a C-GET requestor doing the
same; Association.store and the C-GET SCP refusing to send. Over 127.0.0.1, port 0;
every wait has a timeout, nothing sleeps.
"""

# ruff: noqa: F811 - the shared Server fixture is imported, then named as an argument
from __future__ import annotations

import logging
from pathlib import Path

import hypothesis
import hypothesis.strategies
import pytest
import raw_dimse
from pydicom.data import get_testdata_file
from test_server import server  # noqa: F401 - the Server fixture, shared

from dicomul.dimse.messages import decode_message, encode_command
from dicomul.dimse.status import INVALID_OBJECT_INSTANCE, SOP_CLASS_NOT_SUPPORTED
from dicomul.dimse.uids import MAX_UID_LENGTH, is_valid_uid, store_uid_error, uid_problem
from dicomul.storage.part10 import StorageError, read_part10
from dicomul.storage.receiver import StoreReceiver
from dicomul.sync import server as server_module
from dicomul.sync.services import Association, contexts_for_files, qr_contexts

pytestmark = pytest.mark.timeout(60)

T = 10.0
CT = get_testdata_file("CT_small.dcm")
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
UID_64 = "1." + "2" * 62
UID_65 = UID_64 + "3"


# ---- the validator ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "uid", ["1.2.840.10008.1.2", "0", "0.0", "1.0.3", "2.25.0", UID_64, "1.2.3.1000000"]
)
def test_valid_uids(uid: str) -> None:
    assert len(UID_64) == MAX_UID_LENGTH
    assert is_valid_uid(uid) and uid_problem(uid) is None


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        (UID_65, "65 characters, more than 64"),
        ("1.2.abc", "character 'a' at position 4"),
        ("1.2.3-4", "character '-'"),
        ("1.2.03", "component 3 ('03') has a leading zero"),
        ("01.2", "component 1 ('01') has a leading zero"),
        ("1..2", "component 2 is empty"),
        ("1.2.", "component 3 is empty"),
        (".1.2", "component 1 is empty"),
        ("1.2.\u0663", "character '\u0663'"),  # ARABIC-INDIC DIGIT THREE: isdigit(), not ASCII
        ("1.2.3\u00e9", "character '\u00e9'"),
        ("1.2.3 ", "character ' '"),
        ("1.2.3\x00", "character '\\x00'"),
        ("../../x", "character '/'"),
        ("", "empty"),
        (None, "NoneType, not a str"),
        (b"1.2.3", "bytes, not a str"),
    ],
)
def test_invalid_uids(uid: object, reason: str) -> None:
    assert not is_valid_uid(uid)
    problem = uid_problem(uid)
    assert problem is not None and reason in problem


def test_store_uid_error_statuses_and_message() -> None:
    assert store_uid_error(CT_CLASS, "1.2.3") is None
    status, message = store_uid_error(CT_CLASS, "1.2.03")  # type: ignore[misc]
    assert status == INVALID_OBJECT_INSTANCE == 0x0117
    assert message == (
        "SOP Instance UID '1.2.03' is not a valid UID (PS3.5 9.1): component 3 ('03') has a "
        "leading zero; DCMTK and pynetdicom refuse it"
    )
    assert store_uid_error("1.2.x", "1.2.3")[0] == SOP_CLASS_NOT_SUPPORTED == 0x0122  # type: ignore[index]
    assert store_uid_error("1.2.x", "1.2.y")[0] == 0x0117  # type: ignore[index]  # instance first


# ---- receiving: the storage SCP -----------------------------------------------------------


def connect(port: int, contexts=None, **kw) -> Association:  # type: ignore[no-untyped-def]
    for k in ("dimse_timeout", "acse_timeout", "connect_timeout"):
        kw.setdefault(k, T)
    return Association.connect("127.0.0.1", port, called_ae="SCP", contexts=contexts, **kw)


def _even(value: bytes) -> bytes:
    return value + b"\x00" * (len(value) % 2)


def raw_store_command(
    instance_uid: bytes, class_uid: bytes = CT_CLASS.encode(), msg_id: int = 77
) -> bytes:
    """A C-STORE-RQ command set with any UID values: raw bytes bypass the encoder's
    checks (what a sender without dicomul's policy puts on the wire)."""
    return encode_command(
        {
            0x0002: _even(class_uid),
            0x0100: 0x0001,
            0x0110: msg_id,
            0x0700: 0,
            0x0800: 1,
            0x1000: _even(instance_uid),
        }
    )


def send_raw_store(assoc: Association, command: bytes, data: bytes) -> int:
    return raw_dimse.send_raw_store(assoc, CT_CLASS, command, data)


BAD_INSTANCE_UIDS = [
    b"1.2.abc",
    UID_65.encode(),
    b"1.2.03",
    b"1..2",
    b"1.2.",
    b"../../x",  # path characters: still answered
    b"a/../../b",
]


@pytest.mark.parametrize("uid", BAD_INSTANCE_UIDS, ids=lambda u: u.decode()[:12])
def test_server_answers_0117_and_stores_nothing(
    server, tmp_path: Path, caplog: pytest.LogCaptureFixture, uid: bytes
) -> None:
    store = tmp_path / "store"
    _, port = server(store_dir=store)
    data = read_part10(CT).read_dataset_bytes()
    with caplog.at_level(logging.WARNING, logger="dicomul"):
        with connect(port, contexts_for_files([CT])) as assoc:
            assert send_raw_store(assoc, raw_store_command(uid), data) == 0x0117
            assert list(store.iterdir()) == []  # no file, no temporary file left
            assert assoc.store(CT) == 0  # the association goes on
    assert [p.parent for p in tmp_path.rglob("*") if p.is_file()] == [store]
    assert any(
        "0x0117" in r.getMessage() and "is not a valid UID (PS3.5 9.1)" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


def test_server_answers_0122_for_an_invalid_class_uid(server, tmp_path: Path) -> None:
    _, port = server(store_dir=tmp_path)
    data = read_part10(CT).read_dataset_bytes()
    with connect(port, contexts_for_files([CT])) as assoc:
        command = raw_store_command(b"1.2.3.4", class_uid=b"1.2.840.10008.5.1.4.1.1.02")
        assert send_raw_store(assoc, command, data) == 0x0122
        assert assoc.store(CT) == 0
    assert len(list(tmp_path.iterdir())) == 1


def test_server_in_memory_handler_never_sees_an_invalid_uid(server) -> None:
    got = []
    _, port = server(on_store=lambda meta, data, info: got.append(meta) or 0)
    data = read_part10(CT).read_dataset_bytes()
    with connect(port, contexts_for_files([CT])) as assoc:
        assert send_raw_store(assoc, raw_store_command(b"1.2.03"), data) == 0x0117
        assert assoc.store(CT) == 0
    assert [m.sop_instance_uid for m in got] == [read_part10(CT).meta.sop_instance_uid]


# ---- receiving: StoreReceiver, as a C-GET requestor uses it --------------------------------


def test_store_receiver_refuses_without_writing(tmp_path: Path) -> None:
    receiver = StoreReceiver(directory=tmp_path)
    command = raw_store_command(b"1.2.abc")
    rq = decode_message(command)
    guard = receiver.sink("1.2.840.10008.1.2.1", command)
    assert guard is not None
    assert list(tmp_path.iterdir()) == []  # no temporary file was even created
    guard.write(b"\x08\x00\x18\x00UI\x02\x001\x00")
    assert receiver.complete(rq, "1.2.840.10008.1.2.1", guard) == 0x0117  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_get_requestor_answers_0117(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a C-GET SCP without the sending check (dicomul's own, with it switched off) sends a
    # sub-operation whose instance UID has a leading zero, which dicomul's encoder accepts
    monkeypatch.setattr(server_module, "store_uid_error", lambda cls, inst: None, raising=False)
    bad = (read_part10(CT).read_dataset_bytes(), read_part10(CT).meta.transfer_syntax,
           CT_CLASS, "1.2.03.4")  # fmt: skip
    _, port = server(on_get=lambda identifier: [bad, CT])
    out = tmp_path / "out"
    contexts = qr_contexts(("study",), ("get",)) + contexts_for_files([CT])
    with connect(port, contexts) as assoc:
        results = list(assoc.get(_identifier(), output_dir=out))
    status, final = results[-1]
    assert status == 0xB000
    assert (final.completed_suboperations, final.failed_suboperations) == (1, 1)
    assert [p.name for p in out.iterdir()] == [f"{read_part10(CT).meta.sop_instance_uid}.dcm"]


# ---- sending ----------------------------------------------------------------------------


def _identifier():  # type: ignore[no-untyped-def]
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = "1.2.3"
    return ds


@pytest.mark.parametrize(
    "uid", ["1.2.abc", "1.2.03", UID_65, "1.2.", "1.2.3\u00e9"], ids=lambda u: u[:12]
)
def test_association_store_refuses_before_sending(server, tmp_path: Path, uid: str) -> None:
    _, port = server(store_dir=tmp_path)
    pf = read_part10(CT)
    obj = (pf.read_dataset_bytes(), pf.meta.transfer_syntax, CT_CLASS, uid)
    with connect(port, contexts_for_files([CT])) as assoc:
        with pytest.raises(StorageError) as info:
            assoc.store(obj)
        assert f"SOP Instance UID {uid!r} is not a valid UID (PS3.5 9.1): " in str(info.value)
        assert str(info.value).endswith("; DCMTK and pynetdicom refuse it")
        assert not assoc.session.connection.pending_output  # nothing went out
        assert assoc.session.outstanding == 0
        assert assoc.store(CT) == 0  # still usable
    assert [p.name for p in tmp_path.iterdir()] == [f"{pf.meta.sop_instance_uid}.dcm"]


def test_get_scp_does_not_send_an_invalid_uid(server) -> None:
    bad = (read_part10(CT).read_dataset_bytes(), read_part10(CT).meta.transfer_syntax,
           CT_CLASS, "1.2.03.4")  # fmt: skip
    _, port = server(on_get=lambda identifier: [bad, CT])
    received = []
    contexts = qr_contexts(("study",), ("get",)) + contexts_for_files([CT])
    with connect(port, contexts) as assoc:
        results = list(
            assoc.get(_identifier(), store_handler=lambda ds, meta: received.append(meta) or 0)
        )
    status, final = results[-1]
    assert status == 0xB000
    assert (final.completed_suboperations, final.failed_suboperations) == (1, 1)
    assert [m.sop_instance_uid for m in received] == [read_part10(CT).meta.sop_instance_uid]


def _valid_by_the_letter(uid: str) -> bool:
    """PS3.5 9.1 read literally (the reference for the compiled fast path)."""
    if not uid or len(uid) > 64 or any(c not in "0123456789." for c in uid):
        return False
    return all(p and (p == "0" or p[0] != "0") for p in uid.split("."))


@hypothesis.given(hypothesis.strategies.text(alphabet="0123456789.a\n", max_size=70))
@hypothesis.settings(max_examples=2000, deadline=None)
def test_the_fast_uid_check_agrees_with_the_standard(uid: str) -> None:
    assert (uid_problem(uid) is None) is _valid_by_the_letter(uid)
