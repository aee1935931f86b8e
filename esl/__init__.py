"""Hotline esl room (see ARCHITECTURE.md)."""
