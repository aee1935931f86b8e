"""Hotline esl room: the FreeSWITCH edge (see ARCHITECTURE.md).

* ``framing`` (+ ``_readers``, ``_events``, ``commands``): the event-socket protocol as a sans-IO state
  machine, h11 style; no sockets, no clock.
* Outbound socket, ``hotline esl`` (its own gevent process): ``cli`` → ``server`` (accepts, one greenlet
  per call) → ``outbound`` (the driver) using ``channel`` (blocking session I/O with timeouts),
  ``apps`` (IVR commands as dialplan applications) and ``handover`` (variables, bridge, transfer).
* Inbound event client, part of ``hotline serve`` (asyncio): ``inbound``, with ``events`` mapping
  FreeSWITCH events onto ``hotline.pbx_events.PbxEvent``.

greenswitch is not used: its reader loop, reply matching and missing timeouts are what the edge must get
right (tests/esl/test_greenswitch_faults.py shows each fault against the simulator), so both sides read
frames through ``framing`` instead. Importing this package imports neither gevent nor asyncio code.
"""
