"""Hotline ivr room (see ARCHITECTURE.md)."""
