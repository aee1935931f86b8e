"""IVR menus deployed while an edge runs take effect for the next call; a broken file never does.

End to end, in the ``hotline esl`` process: tests/esl/test_menu_reload.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ivr.check import load_menus
from ivr.reload import MenuReloader


class Holder:
    """Stands in for FastAgiServer or the ESL Edge: the reloader only swaps its ``menus``."""

    def __init__(self, menus: dict) -> None:
        self.menus = menus


def copy_conf(conf_dir: Path, tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir / "ivr", conf / "ivr")
    shutil.copy(conf_dir / "intents.yaml", conf / "intents.yaml")
    return conf


def test_a_changed_menu_replaces_the_running_ones(conf_dir: Path, tmp_path: Path) -> None:
    conf = copy_conf(conf_dir, tmp_path)
    holder = Holder(load_menus(conf))
    reloader = MenuReloader(holder, conf)
    assert not reloader.check_once()
    main = conf / "ivr" / "demo" / "main.yaml"
    (conf / "ivr" / "demo" / "second.yaml").write_text(main.read_text())
    assert reloader.check_once()
    assert ("demo", "second") in holder.menus


def test_a_broken_menu_leaves_the_running_ones_in_force_until_it_is_fixed(conf_dir: Path, tmp_path: Path) -> None:
    conf = copy_conf(conf_dir, tmp_path)
    holder = Holder(load_menus(conf))
    before = holder.menus
    reloader = MenuReloader(holder, conf)
    main = conf / "ivr" / "demo" / "main.yaml"
    good = main.read_text()
    main.write_text("start: nowhere\nnodes: {}\n")
    assert not reloader.check_once()
    assert holder.menus is before
    assert not reloader.check_once()  # not retried (nor logged again) until a file changes
    main.write_text(good.replace("hotline/welcome", "hotline/welcome-2"))
    assert reloader.check_once()
    assert holder.menus[("demo", "main")].prompts["en"]["welcome"].sound == "hotline/welcome-2"
