"""Hotline flows room: flow definitions and versions, people and assignment, tickets, tasks, the intent intake.

Public surface (import from the modules; this package stays import-light so ``flows.models`` can load alone):

- ``flows.check.check_flows(conf_dir)`` — every config error, with file and line (``hotline check``).
- ``flows.worker.flow_worker(runtime)`` — the serve part; ``flows.cli.flows`` — the ``hotline flows`` group.
- ``flows.actions.perform(session, tenant, actor, requests, now=...)`` — claim/approve/reject/handle/transfer/
  comment/cancel/reopen, in the caller's transaction.
- ``flows.intake.intake(session, tenant, events, catalog=..., now=...)`` — intent events to tickets.
- ``flows.recipients.recipients_for(session, tenant, task_id, level)`` and ``due_callbacks`` — for the SLA clock,
  alerts and the PBX edge; ``flows.models`` — ``Task.due_at``, ``Task.warning_plan``, ``TicketEvent``.
"""
