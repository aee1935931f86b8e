"""Alert providers, one small module each, behind ``alerts.providers.base.AlertProvider``.

``log`` is the reference; ``twilio_sms``, ``twilio_voice``, ``smtp``,
``wecom`` and ``pbx_voice`` are the real ones; ``registry.build_providers``
turns settings into a ``ProviderSet``.
"""

from alerts.providers.base import AlertProvider, Fault, GiveUp, Notification, ProviderFlags, Receipt, TryLater

__all__ = ["AlertProvider", "Fault", "GiveUp", "Notification", "ProviderFlags", "Receipt", "TryLater"]
