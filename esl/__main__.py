"""``python -m esl``: ``hotline esl`` after gevent has patched the standard library (see esl/cli.py)."""

from gevent import monkey

monkey.patch_all()

# Only now may anything import socket, ssl or threading. hotline.cli comes first because it imports
# esl.cli to attach the command: importing esl.cli first would make that import circular.
import hotline.cli  # noqa: F401
from esl.cli import esl

esl(prog_name="hotline esl")
