"""PDU codec benchmark: dicomul against pynetdicom, side by side in one process.

    python bench/bench_codec.py [--quick]

Prints µs per operation and the ratio (pynetdicom time / dicomul time) for A-ASSOCIATE-RQ
and -AC with 1, 16 and 128 presentation contexts (3 transfer syntaxes each, full user
information), a P-DATA-TF with one 16 KiB PDV, and a 4 MiB data set fragmented into 16 KiB
PDUs and reassembled. The same PDU bytes (built by pynetdicom) feed both libraries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import HEADER, per_call_us, row  # noqa: E402
from pynetdicom import pdu as pn_pdu  # noqa: E402
from pynetdicom import pdu_primitives as pn_prim  # noqa: E402
from pynetdicom.dimse_messages import C_STORE_RQ, DIMSEMessage  # noqa: E402
from pynetdicom.dimse_primitives import C_STORE  # noqa: E402
from pynetdicom.presentation import PresentationContext  # noqa: E402

import dicomul  # noqa: E402
from dicomul.ul import _core  # noqa: E402

TS = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"]


def _contexts(n: int, accept: bool) -> list[PresentationContext]:
    out = []
    for i in range(n):
        cx = PresentationContext()
        cx.context_id = 2 * i + 1
        cx.abstract_syntax = f"1.2.840.10008.5.1.4.1.1.{i + 1}"
        if accept:
            cx.result = 0
            cx.transfer_syntax = [TS[i % 3]]
        else:
            cx.transfer_syntax = list(TS)
        out.append(cx)
    return out


def _user_info(n: int, request: bool) -> list[object]:
    ml = pn_prim.MaximumLengthNotification()
    ml.maximum_length_received = 16382
    ic = pn_prim.ImplementationClassUIDNotification()
    ic.implementation_class_uid = dicomul.IMPLEMENTATION_CLASS_UID
    iv = pn_prim.ImplementationVersionNameNotification()
    iv.implementation_version_name = "BENCH_1"
    aw = pn_prim.AsynchronousOperationsWindowNegotiation()
    aw.maximum_number_operations_invoked = 4
    aw.maximum_number_operations_performed = 4
    items: list[object] = [ml, ic, iv, aw]
    for i in range(min(n, 4)):
        rs = pn_prim.SCP_SCU_RoleSelectionNegotiation()
        rs.sop_class_uid = f"1.2.840.10008.5.1.4.1.1.{i + 1}"
        rs.scu_role = True
        rs.scp_role = True
        items.append(rs)
    ext = pn_prim.SOPClassExtendedNegotiation()
    ext.sop_class_uid = "1.2.840.10008.5.1.4.1.1.1"
    ext.service_class_application_information = b"\x01\x00\x01\x00"
    items.append(ext)
    ui = pn_prim.UserIdentityNegotiation()
    if request:
        ui.user_identity_type = 2
        ui.positive_response_requested = True
        ui.primary_field = b"operator"
        ui.secondary_field = b"secret"
    else:
        ui.server_response = b"welcome"
    items.append(ui)
    return items


def associate_pdu(n: int, request: bool) -> bytes:
    prim = pn_prim.A_ASSOCIATE()
    prim.application_context_name = "1.2.840.10008.3.1.1.1"
    prim.calling_ae_title = "BENCH_SCU"
    prim.called_ae_title = "BENCH_SCP"
    if request:
        prim.presentation_context_definition_list = _contexts(n, False)
    else:
        prim.presentation_context_definition_results_list = _contexts(n, True)
        prim.result = 0
    prim.user_information = _user_info(n, request)
    cls = pn_pdu.A_ASSOCIATE_RQ if request else pn_pdu.A_ASSOCIATE_AC
    pdu = cls()
    pdu.from_primitive(prim)
    return bytes(pdu.encode())


def bench_associate(results: list[str], quick: bool) -> None:
    for request, name in ((True, "RQ"), (False, "AC")):
        for n in (1, 16, 128):
            raw = associate_pdu(n, request)
            cls = pn_pdu.A_ASSOCIATE_RQ if request else pn_pdu.A_ASSOCIATE_AC

            def pn_decode(raw: bytes = raw, cls: type = cls) -> object:
                pdu = cls()
                pdu.decode(raw)
                return pdu

            pn_obj = pn_decode()
            ours = dicomul.Associate.decode(raw)
            assert ours.encode() == raw or len(ours.encode()) == len(raw), "codec mismatch"
            t = 0.05 if quick else 0.3
            d_ours = per_call_us(lambda raw=raw: dicomul.Associate.decode(raw), t)
            d_pn = per_call_us(pn_decode, t)
            e_ours = per_call_us(ours.encode, t)
            e_pn = per_call_us(pn_obj.encode, t)
            tgt_d = 100 if (request and n == 128) else None
            tgt_e = 50 if (request and n == 128) else None
            results.append(row(f"A-ASSOCIATE-{name} {n:>3} contexts decode", d_ours, d_pn, tgt_d))
            results.append(row(f"A-ASSOCIATE-{name} {n:>3} contexts encode", e_ours, e_pn, tgt_e))


def bench_pdata(results: list[str], quick: bool) -> None:
    payload = bytes(range(256)) * 64  # 16 KiB
    raw = _core.encode_pdata([(1, 0x02, payload)])

    def pn_decode() -> object:
        pdu = pn_pdu.P_DATA_TF()
        pdu.decode(raw)
        return pdu

    pn_obj = pn_decode()
    t = 0.05 if quick else 0.3
    results.append(
        row(
            "P-DATA-TF 16 KiB PDV decode",
            per_call_us(lambda: dicomul.decode_pdu(raw), t),
            per_call_us(pn_decode, t),
        )
    )
    ours = dicomul.decode_pdu(raw)
    results.append(
        row(
            "P-DATA-TF 16 KiB PDV encode",
            per_call_us(ours.encode, t),
            per_call_us(pn_obj.encode, t),
        )
    )


def bench_fragment(results: list[str], quick: bool) -> None:
    """Send side: split into PDUs ready for the socket (dicomul: a header + memoryview list for
    sendmsg; pynetdicom: one bytes per PDU). Receive side: reassemble the data set from the
    same wire bytes (dicomul: 64 KiB chunks as recv() returns them; pynetdicom: one PDU at a
    time, as its DUL reads them)."""
    from io import BytesIO

    dataset = bytes(range(256)) * (4 * 4096)  # 4 MiB
    max_pdu = 16384

    def pn_fragment() -> list[bytes]:
        prim = C_STORE()
        prim.MessageID = 1
        prim.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        prim.AffectedSOPInstanceUID = "1.2.3.4"
        prim.Priority = 2
        prim.DataSet = BytesIO(dataset)
        msg = C_STORE_RQ()
        msg.primitive_to_message(prim)
        wire = []
        for p in msg.encode_msg(1, max_pdu):
            pdu = pn_pdu.P_DATA_TF()
            pdu.from_primitive(p)
            wire.append(pdu.encode())
        return wire

    pn_wire = pn_fragment()
    command = bytes(pn_wire[0][12:])  # pynetdicom's encoded command set, sent by both
    stream = b"".join(pn_wire)
    chunks = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]

    def ours_fragment() -> list[object]:
        return _core.fragment(1, True, command, max_pdu) + _core.fragment(
            1, False, dataset, max_pdu
        )

    assert b"".join(ours_fragment()) == stream, "dicomul and pynetdicom wire bytes differ"

    def ours_reassemble() -> bytes:
        reader = dicomul.PDUReader(max_pdu)
        parts = []  # PDV payloads are memoryviews: one copy, by join, at the end
        for chunk in chunks:
            for pdu in reader.feed(chunk):
                for pdv in pdu.pdvs:
                    if not pdv.is_command:
                        parts.append(pdv.data)
        return b"".join(parts)

    def pn_reassemble() -> bytes:
        recv = DIMSEMessage()
        for raw in pn_wire:
            pdu = pn_pdu.P_DATA_TF()
            pdu.decode(raw)
            recv.decode_msg(pdu.to_primitive())
        return bytes(recv.data_set.getvalue())

    assert ours_reassemble() == dataset and pn_reassemble() == dataset
    t = 0.3 if quick else 2.0
    f_ours, f_pn = per_call_us(ours_fragment, t, 5), per_call_us(pn_fragment, t, 5)
    r_ours, r_pn = per_call_us(ours_reassemble, t, 5), per_call_us(pn_reassemble, t, 5)
    results.append(row("4 MiB data set: fragment into 16 KiB PDUs", f_ours, f_pn))
    results.append(row("4 MiB data set: reassemble from 16 KiB PDUs", r_ours, r_pn))
    results.append(row("4 MiB data set: fragment + reassemble", f_ours + r_ours, f_pn + r_pn, 10))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    args = parser.parse_args(argv)
    results: list[str] = []
    bench_associate(results, args.quick)
    bench_pdata(results, args.quick)
    bench_fragment(results, args.quick)
    print(HEADER)
    print("\n".join(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
