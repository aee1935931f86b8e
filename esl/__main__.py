"""``python -m esl``: ``hotline esl`` after gevent has patched the standard library (see esl/cli.py)."""

from gevent import monkey

monkey.patch_all()

from esl.cli import esl  # noqa: E402 - must come after patch_all

esl(prog_name="hotline esl")
