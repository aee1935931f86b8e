"""Call statistics: live figures per queue, trunk, agent, extension and skill group, and interval reports.

This package is a room of its own that lives under ``api/`` (so it ships with
the ``api`` package): it reads only the normalized PBX event stream
(``hotline.pbx_events``) and the routing config's trunk dial templates, and
nothing reads it but the API (``/api/v1/reports/...``, ``/ws/monitor``).

* ``offers``: sans-IO; what each event does to a call's open offers.
* ``live``: the Redis side (call states, gauges, today's counts).
* ``intervals``: 15-minute reports computed from settled offers (SQL).
* ``tables``: the SQL rows. ``consumer``: the serve part. ``reports``: the routes.
"""

from api.stats.intervals import INTERVAL_S, Figures, roll_up, summarize
from api.stats.offers import Dimension, Result, TrunkMatcher
from api.stats.tables import StatsInterval, StatsOffer

# The serve part (``api.stats.consumer.stats``) is not re-exported: Alembic imports this package for
# its tables and must not pull in the whole process wiring.
__all__ = [
           "INTERVAL_S",
           "Dimension",
           "Figures",
           "Result",
           "StatsInterval",
           "StatsOffer",
           "TrunkMatcher",
           "roll_up",
           "summarize",
]
