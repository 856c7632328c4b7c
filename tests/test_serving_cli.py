"""`pvoice keys`, `pvoice db`, and a real `pvoice serve` killed with SIGKILL while alerts are pending."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pvoice.model.config import ClassifierConfig
from pvoice.model.testing import save_tiny_classifier
from pvoice.cli import app
from pvoice.settings import get_settings
from serving_support import WebhookReceiver, write_routing


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PVOICE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # a database outside the default path
    yield runner
    get_settings.cache_clear()


def test_keys_create_prints_the_key_alone_on_the_last_line(cli_env):
    result = cli_env.invoke(app, ["keys", "create", "--role", "agent", "--name", "desk-1"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("pv_") and " " not in key
    listed = cli_env.invoke(app, ["keys", "list"])
    assert "agent\tdesk-1" in listed.stdout and key not in listed.stdout
    assert cli_env.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
    assert "revoked" in cli_env.invoke(app, ["keys", "list"]).stdout
    assert cli_env.invoke(app, ["keys", "revoke", "99"]).exit_code == 1


def test_keys_create_refuses_an_unknown_role(cli_env):
    result = cli_env.invoke(app, ["keys", "create", "--role", "root"])
    assert result.exit_code == 2 and "unknown role 'root'" in result.output


def test_db_upgrade(cli_env):
    from pvoice.serving.db.migrate import head_revision

    result = cli_env.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and f"at revision {head_revision()}" in result.stdout


def test_db_backup_copies_the_live_database(cli_env, tmp_path):
    import sqlite3

    assert cli_env.invoke(app, ["keys", "create", "--role", "agent"]).exit_code == 0
    copy = tmp_path / "backup.db"
    result = cli_env.invoke(app, ["db", "backup", str(copy)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)
    assert copy.stat().st_mode & 0o077 == 0
    again = cli_env.invoke(app, ["db", "backup", str(copy)])
    assert again.exit_code == 2 and "exists" in again.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_a_killed_server_delivers_its_pending_alerts_after_restart(tmp_path):
    model_dir = save_tiny_classifier(tmp_path / "model")
    config = ClassifierConfig.load(model_dir)
    config.page_threshold = 0.0  # every comment urgent: the random tiny model decides nothing reliably
    config.save(model_dir)
    receiver = WebhookReceiver(down=True)
    port = _free_port()
    env = {**os.environ, "PVOICE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "PVOICE_MODEL_DIR": str(model_dir), "PVOICE_CASE_EVIDENCE": "false",
           "PVOICE_ROUTING_PATH": str(write_routing(tmp_path / "routing.yaml", webhook_url=receiver.url)),
           "PVOICE_ALERT_BACKOFF_BASE_SECONDS": "0.2", "PVOICE_ALERT_BACKOFF_MAX_SECONDS": "0.5",
           "PVOICE_ALERT_MAX_ATTEMPTS": "1000"}
    pvoice = [sys.executable, "-m", "pvoice"]
    subprocess.run([*pvoice, "db", "upgrade"], env=env, capture_output=True, check=True)
    created = subprocess.run([*pvoice, "keys", "create", "--role", "intake"], env=env, capture_output=True,
                             text=True, check=True)
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    base = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        server = subprocess.Popen([*pvoice, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: httpx.get(f"{base}/readyz").status_code == 200, 90)
        return server

    server = start()
    try:
        body = {"comments": [{"text": f"第{n}条：护士输错了液", "channel": "wechat",
                              "received_at": "2026-03-02T09:00:00"} for n in range(3)]}
        items = httpx.post(f"{base}/v1/comments", json=body, headers=headers, timeout=30).json()["items"]
        assert all(item["case"] for item in items)
        time.sleep(1.0)  # a few failed tries against the receiver that is down
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        assert receiver.posts == []
        receiver.down = False
        server = start()
        _wait(lambda: len(set(receiver.keys())) == 3, 30)
        time.sleep(1.0)
        assert len(receiver.keys()) == 3  # once each, nothing sent twice
    finally:
        server.kill()
        server.wait(10)
        receiver.close()
    assert Path(tmp_path / "serve.db").exists()


def _worker_processes(pid: int) -> int:
    """Children of `pid` started by multiprocessing to serve (not its resource tracker)."""
    count = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        count += ppid == pid and b"spawn_main" in cmdline
    return count


# two real server processes take about 30 s: kept out of the default run so that it stays under 10 minutes
@pytest.mark.slow
def test_serve_with_two_workers_answers_from_two_processes(tmp_path):
    model_dir = save_tiny_classifier(tmp_path / "model")
    port = _free_port()
    env = {**os.environ, "PVOICE_DATABASE_URL": f"sqlite:///{tmp_path / 'workers.db'}",
           "PVOICE_MODEL_DIR": str(model_dir), "PVOICE_ROUTING_PATH": str(write_routing(tmp_path / "routing.yaml"))}
    pvoice = [sys.executable, "-m", "pvoice"]
    subprocess.run([*pvoice, "db", "upgrade"], env=env, capture_output=True, check=True)
    created = subprocess.run([*pvoice, "keys", "create", "--role", "intake"], env=env, capture_output=True,
                             text=True, check=True)
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    server = subprocess.Popen([*pvoice, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: httpx.get(f"{base}/readyz").status_code == 200, 120)
        assert _worker_processes(server.pid) == 2
        body = {"comments": [{"text": f"第{n}条：挂号排队太久", "channel": "wechat",
                              "received_at": "2026-03-02T09:00:00"} for n in range(4)]}
        for _ in range(3):
            assert httpx.post(f"{base}/v1/comments", json=body, headers=headers, timeout=30).status_code == 200
    finally:
        server.terminate()
        server.wait(30)
