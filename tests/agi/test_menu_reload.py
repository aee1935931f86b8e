"""IVR menus deployed while serve runs take effect for the next call; a broken file never does."""

from __future__ import annotations

import shutil
from pathlib import Path

from agi.edge import MenuReloader
from ivr.check import load_menus


class Server:
    """Stands in for FastAgiServer: the reloader only swaps its ``menus``."""

    def __init__(self, menus: dict) -> None:
        self.menus = menus


def copy_conf(conf_dir: Path, tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir / "ivr", conf / "ivr")
    shutil.copy(conf_dir / "intents.yaml", conf / "intents.yaml")
    return conf


def test_a_changed_menu_replaces_the_running_ones(conf_dir: Path, tmp_path: Path) -> None:
    conf = copy_conf(conf_dir, tmp_path)
    server = Server(load_menus(conf))
    reloader = MenuReloader(server, conf)  # type: ignore[arg-type]
    assert not reloader.check_once()
    main = conf / "ivr" / "demo" / "main.yaml"
    (conf / "ivr" / "demo" / "second.yaml").write_text(main.read_text())
    assert reloader.check_once()
    assert ("demo", "second") in server.menus


def test_a_broken_menu_leaves_the_running_ones_in_force(conf_dir: Path, tmp_path: Path) -> None:
    conf = copy_conf(conf_dir, tmp_path)
    server = Server(load_menus(conf))
    before = server.menus
    reloader = MenuReloader(server, conf)  # type: ignore[arg-type]
    (conf / "ivr" / "demo" / "main.yaml").write_text("start: nowhere\nnodes: {}\n")
    assert not reloader.check_once()
    assert server.menus is before
