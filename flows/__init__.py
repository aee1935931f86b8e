"""Hotline flows room (see ARCHITECTURE.md)."""
