"""Hotline agi room: the Asterisk edge (see ARCHITECTURE.md).

Nothing is imported here, so the spawned script (``hotline-agi``) loads only what
it uses. The public entry points, by module:

* ``agi.protocol``: the sans-IO AGI protocol (``AgiConnection``, events, errors, states table).
* ``agi.fastagi``: ``start_fastagi_server(host, port, *, effects, menus, timeouts=...)`` → ``FastAgiServer``
  (``close(grace_s)`` on shutdown).
* ``agi.effects``: ``AsyncEffects(router, redis, rules)`` with ``effects_client(url)``; ``SyncEffects``.
* ``agi.script``: ``main()`` for the console script ``hotline-agi = agi.script:main``; it relays the call
  to a running ``hotline serve`` (``agi.relay``, standard library only) or runs it here (``agi.inprocess``).
* ``agi.ami``: ``AmiClient(parse_ami_url(url), redis, router=...)`` with ``start()``/``close()``,
  ``originate(...)``, ``redirect(...)``, ``action(...)``.
* ``agi.scripts``: the AGI scripts by name (``ivr``, ``route``, ``hangup``); ``agi.variables``: channel
  variable names.
"""
