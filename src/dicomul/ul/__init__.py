"""PS3.8, sans-IO: the DICOM Upper Layer. Bytes and time in, events and bytes out.

The C core's binding (``_core``: PDU codec and framing; ``_fsm``: Table 9-10), the
``Associate`` parameters handle (the LEADTOOLS associate functions), ``Connection`` (one
transport connection, one association), the events and requests it trades in, the
acceptor's negotiation rules and P-DATA fragmentation. No sockets, threads or clocks, and
nothing from the layers above (dimse, storage, sync, cli).
"""
