"""Hotline router room (see ARCHITECTURE.md)."""
