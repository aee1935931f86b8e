"""Hotline api room (see ARCHITECTURE.md)."""
