"""`pvoice --version`, the LICENSE, and the settings reference: generated from the settings class, and the
committed docs/settings.md and .env.example are what the generator makes now."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvoice.cli import app
from pvoice.settings import Settings
from pvoice.settings_reference import GENERATED, RENDERERS, setting_docs

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_every_setting_has_a_description():
    missing = [name for name, info in Settings.model_fields.items() if not (info.description or "").strip()]
    assert not missing, f"give these a Field(description=...): {missing}"


@pytest.mark.parametrize("kind", sorted(GENERATED))
def test_the_committed_reference_is_current(kind):
    path = ROOT / GENERATED[kind]
    assert path.exists(), f"{GENERATED[kind]} is missing: run `pvoice settings --write`"
    assert path.read_text(encoding="utf-8") == RENDERERS[kind](), (
        f"{GENERATED[kind]} is out of date with pvoice/settings.py: run `pvoice settings --write` in the checkout")


def test_the_reference_lists_every_setting_with_type_default_and_description():
    markdown = RENDERERS["markdown"]()
    rows = [line for line in markdown.splitlines() if line.startswith("| `PVOICE_")]
    assert len(rows) == len(Settings.model_fields)
    by_name = {doc.name: doc for doc in setting_docs()}
    assert by_name["PVOICE_PORT"].type == "int" and by_name["PVOICE_PORT"].default == "8000"
    assert by_name["PVOICE_MAX_BODY_BYTES"].type == "int (≥ 1024)"
    assert by_name["PVOICE_MAX_BODY_BYTES"].default == str(10 * 1024 * 1024)
    assert by_name["PVOICE_ENVIRONMENT"].type == '"development" | "test" | "production"'
    assert by_name["PVOICE_ALERT_ALLOWED_HOSTS"].default == '["127.0.0.1", "localhost", "::1"]'
    assert by_name["PVOICE_ROUTING_PATH"].default == ""
    assert "| `PVOICE_SLA_COMPLAINT_WORKING_DAYS` | `int` | `2` | A complaint not resolved" in markdown


def test_pvoice_settings_prints_every_setting():
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0, result.output
    for name in Settings.model_fields:
        assert f"PVOICE_{name.upper()}" in result.output
    env = runner.invoke(app, ["settings", "--format", "env"])
    assert env.exit_code == 0 and env.output == RENDERERS["env"]()


def test_pvoice_settings_write_makes_both_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["settings", "--write"])
    assert result.exit_code == 0, result.output
    for kind, relative in GENERATED.items():
        assert (tmp_path / relative).read_text(encoding="utf-8") == RENDERERS[kind]()


def test_env_example_uncommented_gives_the_defaults(tmp_path, monkeypatch):
    """Every value .env.example shows, uncommented, reads back as the default: the file cannot mislead."""
    for key in list(os.environ):
        if key.startswith("PVOICE_"):
            monkeypatch.delenv(key)
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    values = [line[2:] for line in lines if re.match(r"# PVOICE_[A-Z0-9_]+=.+", line)]
    assert len(values) >= len(Settings.model_fields) - 12  # the unset ones stay commented
    env = tmp_path / ".env"
    env.write_text("\n".join(values) + "\n", encoding="utf-8")
    assert Settings(_env_file=env).model_dump() == Settings(_env_file=None).model_dump()


def test_version_is_the_installed_distribution():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"patient-voice {version('patient-voice')}"
    # and from a real process, as an operator runs it
    out = subprocess.run([sys.executable, "-m", "pvoice", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == result.output.strip()


def test_license_is_mit_as_pyproject_says():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 patient-voice contributors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
