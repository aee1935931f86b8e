"""Hotline agi room (see ARCHITECTURE.md)."""
