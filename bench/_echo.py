"""C-ECHO for the association benchmark, with dicomul's own DIMSE codec, and a dicomul
acceptor that answers it."""

from __future__ import annotations

import dicomul
from dicomul.dimse.messages import CEchoRQ, CEchoRSP, decode_message
from dicomul.sync.net import Net


def echo_rq(message_id: int) -> bytes:
    return CEchoRQ(message_id=message_id).encode()


def echo_rsp(message_id: int) -> bytes:
    return CEchoRSP(message_id_being_responded_to=message_id).encode()


def message_id(command: bytes) -> int:
    """MessageID of a request, or MessageIDBeingRespondedTo of a response."""
    msg = decode_message(command)
    if isinstance(msg, CEchoRQ):
        return msg.message_id
    return int(msg.message_id_being_responded_to)  # type: ignore[attr-defined]


class EchoSCP(Net):
    """Accepts every proposed context with its first transfer syntax; answers C-ECHO."""

    def on_receive_associate_request(self, rq: dicomul.Associate) -> None:
        ac = dicomul.Associate(request=False).default_associate()
        ac.max_length = 0
        for pc in rq.presentation_contexts:
            ac.add_presentation(pc.id, 0, pc.abstract_syntax)
            ac.add_transfer(pc.id, pc.transfer_syntaxes[0])
        self.send_associate_accept(ac)

    def on_receive_data(self, pc_id: int, command: bytes, dataset: object) -> None:
        self.send_data(pc_id, echo_rsp(message_id(command)))

    def on_receive_release_request(self) -> None:
        self.send_release_response()


def verification_rq(called: str = "BENCH_SCP") -> dicomul.Associate:
    rq = dicomul.Associate(request=True).default_associate()
    rq.called, rq.calling = called, "BENCH_SCU"
    rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
    return rq
