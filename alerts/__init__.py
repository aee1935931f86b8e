"""Hotline alerts room (see ARCHITECTURE.md)."""
