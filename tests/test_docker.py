"""docker/compose.yaml describes a runnable stack (images can't be pulled here, so it is read, not run)."""

from pathlib import Path

import yaml

from hotline.settings import Settings

DOCKER = Path(__file__).resolve().parent.parent / "docker"


def test_compose_has_hotline_redis_postgres_wired_by_settings() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"hotline", "hotline-esl", "redis", "postgres", "asterisk", "freeswitch"} <= set(services)
    hotline = services["hotline"]
    assert (DOCKER.parent / hotline["build"]["context"].replace("..", ".") / hotline["build"]["dockerfile"]).is_file()
    known = {"HOTLINE_" + name.upper() for name in Settings.model_fields}
    assert set(hotline["environment"]) <= known, "compose sets a HOTLINE_ variable that is not a setting"
    assert hotline["environment"]["HOTLINE_REDIS_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in hotline["environment"]["HOTLINE_DATABASE_URL"]


def test_dockerfile_copies_every_room() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for room in ("hotline", "agi", "esl", "router", "ivr", "flows", "alerts", "api", "conf"):
        assert f"COPY {room} ./{room}" in text


def test_pbx_services_mount_the_shipped_snippets() -> None:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    for name in ("asterisk", "freeswitch"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            assert (DOCKER / source).resolve().is_file(), f"{name} mounts {source}, which is not shipped"
    esl = services["hotline-esl"]
    assert esl["command"] == ["hotline", "esl"]
    assert set(esl["environment"]) <= {"HOTLINE_" + name.upper() for name in Settings.model_fields}
