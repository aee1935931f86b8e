"""Hotline: telephony middleware for customer-service hotlines (wiring, settings, CLI)."""

__version__ = "0.1.0"
