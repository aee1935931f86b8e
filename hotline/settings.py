"""Process settings: ``conf/hotline.yaml`` overridden by ``HOTLINE_*`` environment variables.

Strategy: pydantic-settings does the typing and the precedence (environment
over file over defaults). We add a YAML source that keeps line numbers, and
turn every validation error into one line that names either the file and line
or the environment variable, so an operator never sees a traceback for a typo.
Secrets (tokens, passwords, signing keys) are accepted from the environment
only: a secret written into the YAML file is an error, not a silent default.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hotline.yamlconf import ConfigError, ConfigErrors, LineDict, line_of, load_yaml

__all__ = ["SECRET_FIELDS", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "HOTLINE_"
SETTINGS_FILE = "hotline.yaml"
#: Environment variables under our prefix that belong to the test harness, not to the process.
_IGNORED_ENV_PREFIXES = ("HOTLINE_TEST_",)


#: The conf dir ``load_settings`` was asked to read, when not the one named by the environment.
_conf_dir: ContextVar[Path | None] = ContextVar("hotline_conf_dir", default=None)


class SettingsError(Exception):
    """Settings cannot be used; ``errors`` are located in the file or name the environment variable."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class Settings(BaseSettings):
    """Everything a Hotline process needs to start; every field has a working default."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    conf_dir: Path = Field(Path("conf"), description="Directory holding hotline.yaml, ivr/, flows/, routing.yaml")
    data_dir: Path = Field(Path("data"), description="SQLite file, embedded Redis socket and its data")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file under data_dir")
    redis_url: str | None = Field(None, description="redis:// or unix:// URL; default: embedded redis-server")
    node_name: str = Field(default_factory=lambda: os.uname().nodename, description="This process in leases and logs")

    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=0, le=65535)
    esl_host: str = "127.0.0.1"
    esl_port: int = Field(8084, ge=0, le=65535)

    # -- FreeSWITCH edge (esl/) ---------------------------------------------------------------
    # `hotline esl` listens on esl_host:esl_port for the dialplan's `socket ... async full` (outbound ESL).
    esl_max_calls: int = Field(1000, ge=1, description="Calls `hotline esl` drives at once; more wait to be accepted")
    esl_reply_timeout_s: float = Field(5.0, gt=0, description="Longest wait for a reply, or for answer/set to finish")
    esl_prompt_timeout_s: float = Field(120.0, gt=0, description="Longest a prompt may play before the session is "
                                                                  "given up as silent")
    esl_shutdown_grace_s: float = Field(10.0, ge=0, description="On SIGTERM, how long IVR calls may finish before "
                                                                 "they are handed back to the dialplan")
    # The inbound event client (part of `hotline serve`) connects to FreeSWITCH's event socket;
    # it is off while fs_event_host is unset. The password comes from HOTLINE_FS_PASSWORD only.
    fs_event_host: str | None = Field(None, description="FreeSWITCH event socket host; unset: no event client")
    fs_event_port: int = Field(8021, ge=1, le=65535)
    fs_password: SecretStr | None = Field(None, description="Event socket password (env HOTLINE_FS_PASSWORD only)")
    fs_name: str = Field("freeswitch", description="This FreeSWITCH's name on PBX events and call leases")
    fs_tenant: str = Field("demo", description="Tenant whose stream gets events of channels without hotline_tenant")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["kv", "json"] = "kv"

    secret_key: SecretStr | None = Field(None, description="Signs cookies and acknowledgement links (env only)")
    ami_urls: SecretStr | None = Field(
        None,
        description="Asterisk AMI connections, comma-separated "
        "ami://user:secret@host:5038/?tenant=demo&name=pbx1 (env only: they carry the secret)",
    )

    # --- Alerts (alerts/): where providers live. Credentials are secrets: environment only. ---
    public_base_url: str | None = Field(None, description="URL people and providers reach this server at "
                                        "(acknowledgement links, Twilio callbacks); none = no callbacks")
    twilio_account_sid: str | None = Field(None, description="Twilio account SID; SMS and voice need it")
    twilio_auth_token: SecretStr | None = Field(None, description="Twilio auth token; also verifies webhooks (env only)")
    twilio_api_base_url: str = Field("https://api.twilio.com", description="Twilio REST API base URL")
    twilio_sms_from: str | None = Field(None, description="E.164 number (or messaging sender) SMS come from")
    twilio_voice_from: str | None = Field(None, description="E.164 number alert calls come from")
    smtp_host: str | None = Field(None, description="SMTP relay for alert e-mail; none = no e-mail provider")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "tls", "none"] = Field("starttls", description="starttls (587), tls (465), none")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(None, description="SMTP password (env only)")
    smtp_from: str = Field("hotline@localhost", description="From address of alert e-mail")
    wecom_webhook_url: str = Field("https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                                   description="WeCom group robot webhook URL, without the key")
    wecom_webhook_key: SecretStr | None = Field(None, description="WeCom group robot key (env only)")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def settings_file(self) -> Path:
        return self.conf_dir / SETTINGS_FILE

    @property
    def sql_url(self) -> str:
        """The database URL in force: explicit, or the SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hotline.sqlite3').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


SECRET_FIELDS = frozenset(name for name, f in Settings.model_fields.items() if f.annotation in (SecretStr, SecretStr | None))


class _YamlSource(PydanticBaseSettingsSource):
    """Reads ``<conf_dir>/hotline.yaml``; the conf dir itself may come from the environment."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        conf_dir = _conf_dir.get() or Path(os.environ.get(ENV_PREFIX + "CONF_DIR", "conf"))
        self.path = conf_dir / SETTINGS_FILE
        self.data: LineDict = load_yaml(self.path) if self.path.is_file() else LineDict()
        if not isinstance(self.data, dict):
            raise ConfigErrors([ConfigError(str(self.path), 1, "expected a mapping of setting: value")])

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def _env_names() -> set[str]:
    return {k for k in os.environ if k.startswith(ENV_PREFIX) and not k.startswith(_IGNORED_ENV_PREFIXES)}


def _env_error(name: str, message: str) -> ConfigError:
    return ConfigError(f"environment variable {name}", 0, message)


def _problems(exc: ValidationError, source: _YamlSource) -> list[ConfigError]:
    env = _env_names()
    out = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            out.append(_env_error(env_name, err["msg"]))
        elif name in source.data:
            out.append(ConfigError(str(source.path), line_of(source.data, err["loc"]), f"setting '{name}': {err['msg']}"))
        else:
            out.append(ConfigError("settings", 0, f"'{name}': {err['msg']}"))
    return out


def _file_problems(source: _YamlSource) -> list[ConfigError]:
    out = []
    for key in source.data:
        line = source.data.lines[key]
        if key not in Settings.model_fields:
            out.append(ConfigError(str(source.path), line, f"unknown setting '{key}'"))
        elif key in SECRET_FIELDS:
            out.append(ConfigError(str(source.path), line, f"'{key}' is a secret and may not be written in a file",
                                   hint=f"set {ENV_PREFIX}{key.upper()} in the environment"))
    return out


def load_settings(conf_dir: Path | None = None, **overrides: Any) -> Settings:
    """Load settings, raising ``SettingsError`` with every problem located.

    ``conf_dir`` reads that directory's hotline.yaml instead of the one the
    environment names. Unknown keys in the file and unknown ``HOTLINE_*``
    variables are errors: a misspelt setting silently ignored is worse than
    a refusal.
    """
    token = _conf_dir.set(conf_dir)
    try:
        try:
            source = _YamlSource(Settings)
        except ConfigErrors as exc:
            raise SettingsError(exc.errors) from exc
        known_env = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
        problems = _file_problems(source)
        problems += [_env_error(name, "unknown setting") for name in sorted(_env_names() - known_env)]
        if problems:
            raise SettingsError(problems)
        if conf_dir is not None:
            overrides.setdefault("conf_dir", conf_dir)
        try:
            return Settings(**overrides)
        except ValidationError as exc:
            raise SettingsError(_problems(exc, source)) from exc
    finally:
        _conf_dir.reset(token)
