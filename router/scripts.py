"""The Lua sources shipped beside this module (``router/*.lua``, package data in setup.cfg)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from router.plan import Script

__all__ = ["source"]


@cache
def source(script: Script) -> str:
    """The text of ``router/<script>.lua``; read once per process."""
    return files("router").joinpath(f"{script}.lua").read_text(encoding="utf-8")
