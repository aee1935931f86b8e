"""The alerts room's one base error; every error it raises on purpose derives from it.

Local (our misuse or configuration): ``CalendarError``, ``AckLinkError`` (a
link we must refuse). From providers: ``TryLater`` and ``GiveUp``
(``alerts.providers.base``), whose ``fault`` says whose fault it was.
"""

__all__ = ["AlertsError"]


class AlertsError(Exception):
    """Base of the errors the alerts room raises."""
