"""Support of the browser tests: the service as `pvoice serve` runs it, in a subprocess on a free loopback port,
with the tiny test model, a temporary SQLite database seeded with a key per role (and comments, if asked), and
page helpers for Playwright. No pytest here; the fixtures live in tests/conftest.py.

The tiny model's labels are random, so the live server's copy is made to page: its paging threshold is 0, and
every comment posted to it while it runs is urgent. Comments with chosen labels are seeded before it starts,
through the app with the scripted classifier of serving_support (marker rules) on the same database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
ROLES = ("intake", "agent", "manager", "admin")
PEPPER = "web-tests-pepper"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def paging_copy(model_dir: Path, target: Path) -> Path:
    """A copy of a saved tiny model whose paging threshold is 0: every comment it reads is urgent."""
    from pvoice.model.config import CONFIG_NAME

    shutil.copytree(model_dir, target)
    config = json.loads((target / CONFIG_NAME).read_text(encoding="utf-8"))
    config["page_threshold"], config["review_threshold"] = 0.0, 0.0
    (target / CONFIG_NAME).write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return target


def create_keys(database_url: str, roles=ROLES) -> dict[str, str]:
    """The database brought to the current schema, and one key per role (role -> clear key)."""
    from pvoice.serving.db import make_db_engine, make_session_factory, upgrade
    from pvoice.serving.db.engine import transaction
    from serving_support import add_role_keys

    engine = make_db_engine(database_url, create=True)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        keys = add_role_keys(session, roles, pepper=PEPPER, now=datetime.now(timezone.utc), prefix="测试")
    engine.dispose()
    return keys


def seed_comments(env: dict[str, str], model_dir: Path, items: list[dict], intake_key: str) -> list[dict]:
    """Post `items` (comment bodies of /v1/comments) through the app in this process with the scripted
    classifier (serving_support's marker rules: 输错 urgent, 等了 complaint, 谢谢 praise, 摔了一跤 in the review
    band), on the server's database, before the server starts; returns the API's items."""
    from fastapi.testclient import TestClient

    from pvoice.model.predictor import Classifier
    from pvoice.serving import create_app
    from pvoice.serving.routing import CHANNELS
    from pvoice.settings import Settings
    from serving_support import FakeSender, ScriptedClassifier

    values = {k.removeprefix("PVOICE_").lower(): v for k, v in env.items() if k.startswith("PVOICE_")}
    settings = Settings(**values)
    app = create_app(settings, classifier=ScriptedClassifier(Classifier.from_pretrained(model_dir)),
                     senders={c: FakeSender(c) for c in CHANNELS}, start_workers=False)
    out = []
    with TestClient(app) as client:
        for start in range(0, len(items), 200):
            response = client.post("/v1/comments", json={"comments": items[start:start + 200]},
                                   headers={"Authorization": f"Bearer {intake_key}"})
            response.raise_for_status()
            out += response.json()["items"]
    return out


@dataclass
class WebServer:
    """`pvoice serve` in a subprocess (uvicorn, one worker) on 127.0.0.1; `keys` holds a key per role."""

    workdir: Path
    model_dir: Path  # the tiny model, as saved; the server runs a paging copy of it
    settings: dict = field(default_factory=dict)  # extra PVOICE_* settings, by field name
    port: int = field(default_factory=free_port)
    keys: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def __post_init__(self):
        from serving_support import write_routing

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = f"sqlite:///{self.workdir / 'web.db'}"
        routing = write_routing(self.workdir / "routing.yaml")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PVOICE_")},
            "PVOICE_ENVIRONMENT": "test", "PVOICE_DATABASE_URL": self.database_url,
            "PVOICE_MODEL_DIR": str(paging_copy(self.model_dir, self.workdir / "paging-model")),
            "PVOICE_ROUTING_PATH": str(routing), "PVOICE_API_KEY_PEPPER": PEPPER, "PVOICE_LOG_JSON": "true",
            "PVOICE_TORCH_THREADS": "1", "PVOICE_PORT": str(self.port), "PVOICE_HOST": "127.0.0.1",
            **{f"PVOICE_{k.upper()}": str(v) for k, v in self.settings.items()},
        }
        self.keys = create_keys(self.database_url)
        self.log_path = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seed(self, items: list[dict]) -> list[dict]:
        if self.process is not None:
            raise RuntimeError("seed before start: the seeding app writes to the same database")
        return seed_comments(self.env, self.model_dir, items, self.keys["intake"])

    def start(self, timeout: float = 300.0) -> WebServer:
        command = [sys.executable, "-m", "pvoice", "serve"]
        self.process = subprocess.Popen(command, env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pvoice serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pvoice serve not ready within {timeout:.0f} s: {self.log_tail()}")

    def _drain(self) -> None:
        with open(self.log_path, "ab") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def server_errors(self) -> list[str]:
        """The server's logged 500s ("unhandled error" lines)."""
        if not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                if '"unhandled error"' in line]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    # ---- the API, as other systems call it --------------------------------------------------------------
    def api(self, role: str, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Bearer {self.keys[role]}"},
                             timeout=30, **kwargs)

    def post_comment(self, text: str, **fields) -> dict:
        item = {"text": text, "channel": "wechat", "received_at": datetime.now(timezone.utc).isoformat(), **fields}
        response = self.api("intake", "POST", "/v1/comments", json={"comments": [item]})
        response.raise_for_status()
        return response.json()["items"][0]


# ---- page helpers: what a user does, so tests read as steps ----------------------------------------------
def shot(page, name: str) -> Path:
    """A full-page screenshot in tests/screenshots/NAME.png (kept by CI, ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, server: WebServer, key: str) -> None:
    """Open the login page, type the key into its one password field and submit."""
    page.goto(f"{server.url}/app/login")
    page.fill("input[type=password]", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def sign_out(page) -> None:
    page.click("#logout")
    page.wait_for_load_state()


def path_of(page) -> str:
    return httpx.URL(page.url).path


# ---- the same steps without a browser (TestClient), for status codes and what is stored -------------------
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


def form_token(html: str) -> str:
    found = CSRF_INPUT.search(html)
    if not found:
        raise AssertionError("no csrf_token field in the page")
    return found.group(1)


def client_sign_in(client, key: str, **extra):
    """GET the login page (its CSRF cookie and field), then POST the key; returns the POST's response."""
    token = form_token(client.get("/app/login").text)
    return client.post("/app/login", data={"key": key, "csrf_token": token, **extra}, follow_redirects=False)


def message_in(html: str, element_id: str = "error-message") -> str:
    """The text of the page's element `element_id` (by default the error page's message), tags taken out."""
    found = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    if not found:
        raise AssertionError(f"no #{element_id} in the page")
    return re.sub(r"<[^>]+>", "", found.group(2)).strip()


def english_in(text: str) -> list[str]:
    """Runs of English words in a message (the API's wording leaking into a page); an acronym alone is fine."""
    return re.findall(r"[A-Za-z]{2,}(?:[ ,:'-]+[A-Za-z]{2,})+", text)
