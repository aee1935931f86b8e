from pathlib import Path

import pytest

from hotline.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTLINE_HTTP_PORT", "HOTLINE_CONF_DIR", "HOTLINE_DATA_DIR", "HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "hotline.yaml").write_text(text)
    return tmp_path


def test_shipped_file_gives_documented_defaults(conf_dir: Path) -> None:
    settings = load_settings(conf_dir=conf_dir)
    assert (settings.http_port, settings.agi_port, settings.esl_port) == (8080, 4573, 8084)
    assert settings.sql_url.startswith("sqlite+aiosqlite:///") and settings.sql_url.endswith("data/hotline.sqlite3")
    assert settings.redis_url is None


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_HTTP_PORT", "9090")
    settings = load_settings(conf_dir=write(tmp_path, "http_port: 8081\n"))
    assert settings.http_port == 9090


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_HTTP_PORT", "eighty")
    with pytest.raises(SettingsError) as info:
        load_settings(conf_dir=tmp_path)
    assert str(info.value).startswith("environment variable HOTLINE_HTTP_PORT: Input should be a valid integer")


def test_bad_file_value_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(conf_dir=write(tmp_path, "# comment\nlog_level: INFO\nhttp_port: 70000\n"))
    assert str(info.value) == f"{tmp_path}/hotline.yaml:3: setting 'http_port': Input should be less than or equal to 65535"


def test_unknown_setting_in_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_HTTP_PROT", "1")
    with pytest.raises(SettingsError) as info:
        load_settings(conf_dir=write(tmp_path, "http_port: 1\nhttp_prot: 2\n"))
    assert [str(e) for e in info.value.errors] == [
        f"{tmp_path}/hotline.yaml:2: unknown setting 'http_prot'",
        "environment variable HOTLINE_HTTP_PROT: unknown setting",
    ]


def test_secret_in_file_is_refused_and_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(conf_dir=write(tmp_path, "secret_key: hunter2\n"))
    assert "hunter2" not in str(info.value)
    assert "secret" in str(info.value) and "HOTLINE_SECRET_KEY" in str(info.value)


def test_secret_from_environment_is_hidden_in_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "hunter2")
    settings = load_settings(conf_dir=tmp_path)
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_malformed_yaml_is_located(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(conf_dir=write(tmp_path, "http_port: 1\nagi_port: [1, 2\n"))
    assert str(info.value).startswith(f"{tmp_path}/hotline.yaml:3: invalid YAML")


def test_test_harness_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTLINE_TEST_ANYTHING", "x")
    assert load_settings(conf_dir=tmp_path).http_port == 8080
