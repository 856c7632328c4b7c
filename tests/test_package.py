"""The distribution: one import namespace, its data files, and a `pvoice` that works outside a checkout."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DATA = {
    "pvoice/data/taxonomy.yaml",
    "pvoice/data/routing.yaml",
    "pvoice/serving/db/migrations/script.py.mako",
    "pvoice/serving/db/migrations/env.py",
    "pvoice/serving/db/migrations/versions/0001_initial_schema.py",
    "pvoice/serving/db/migrations/versions/0002_review_band.py",
    "pvoice/serving/db/migrations/versions/0003_delivery_window.py",
    "pvoice/serving/db/migrations/versions/0004_web_sessions.py",
    "pvoice/serving/db/migrations/versions/0005_insights.py",
    "pvoice/serving/web/templates/base.html",
    "pvoice/serving/web/templates/login.html",
    "pvoice/serving/web/static/app.js",
    "pvoice/serving/web/static/app.css",
    "pvoice/serving/web/static/vendor/echarts.min.js",  # copied from npm by `make install`
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' scratch copy: stale modules must not ship
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, text=True)
    (path,) = out.glob("patient_voice-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed on its own (the test interpreter provides the dependencies)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True)
    return target


def _run(installed: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(installed), **(env or {})}
    return subprocess.run([sys.executable, "-m", "pvoice", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)


def test_wheel_installs_one_namespace_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"pvoice"}
    assert PACKAGE_DATA <= set(names)
    assert not [n for n in names if "/comments/" in n or n.endswith("testing.py") and "model" not in n]
    assert "pvoice/model/testing.py" in names  # the tiny-model builder that the benchmarks use


def test_installed_pvoice_runs_outside_a_checkout(installed, tmp_path, tiny_model_dir):
    row = {"id": "x-1", "text": "护士很耐心", "touchpoints": ["nursing"], "aspects": {"nursing": "positive"},
           "sentiment": "positive", "urgency": "none", "urgent_reasons": [], "channel": "survey"}
    corpus = tmp_path / "rows.jsonl"
    corpus.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    probe = subprocess.run([sys.executable, "-c", "import pvoice.model; print(pvoice.model.__file__)"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True)
    assert probe.stdout.startswith(str(installed)), probe.stdout + probe.stderr
    checked = _run(installed, tmp_path, "data", "check", str(corpus))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    predicted = _run(installed, tmp_path, "predict", "--json", "--no-evidence", "--model", str(tiny_model_dir), "挂号太难")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["touchpoints"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_pvoice_serves_outside_a_checkout(installed, tmp_path, tiny_model_dir):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(installed), "PVOICE_MODEL_DIR": str(tiny_model_dir),
           "PVOICE_DATABASE_URL": f"sqlite:///{tmp_path / 'pv.db'}", "PVOICE_PORT": str(port)}
    subprocess.run([sys.executable, "-m", "pvoice", "db", "upgrade"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "pvoice", "serve"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("the installed server did not become ready in 60 s")
        login = httpx.get(f"http://127.0.0.1:{port}/app/login", timeout=10)  # templates from the package data
        assert login.status_code == 200 and 'type="password"' in login.text
        assert httpx.get(f"http://127.0.0.1:{port}/app/static/app.js", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
