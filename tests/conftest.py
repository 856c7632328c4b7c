"""Shared fixtures: a tiny random model of the real classes and small corpus files, all offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pvoice.model.testing import save_tiny_classifier


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_tiny_classifier(tmp_path_factory.mktemp("models") / "tiny")


def make_row(i: int, text: str, touchpoints: dict[str, str], sentiment: str = "negative",
             urgency: str = "complaint", reasons: list[str] | None = None, channel: str = "survey", **extra) -> dict:
    return {"id": f"t-{i:04d}", "text": text, "touchpoints": list(touchpoints), "aspects": touchpoints,
            "sentiment": sentiment, "urgency": urgency, "urgent_reasons": reasons or [], "channel": channel,
            "source": "written", **extra}


SAMPLE_ROWS = [
    make_row(1, "挂号排了三个小时，窗口只开了一个", {"registration": "negative", "waiting": "negative"}),
    make_row(2, "李医生讲得很耐心，谢谢！", {"consultation": "positive"}, "positive", "none"),
    make_row(3, "护士给我妈输错了液，幸好家属发现了，到现在没人给个说法！", {"nursing": "negative"},
             urgency="urgent", reasons=["safety"], channel="wechat"),
    make_row(4, "停车场能不能多加点车位", {"environment": "neutral"}, "neutral", "none"),
    make_row(5, "再不给我退费我就打12345投诉你们", {"billing": "negative"}, urgency="urgent", reasons=["escalation"]),
    make_row(6, "抽血的护士手法很好，一点都不疼", {"lab_test": "positive"}, "positive", "none"),
    make_row(7, "CT报告等了五天还没出来，打电话也没人接", {"examination": "negative"}),
    make_row(8, "小程序上交费很方便，但药房拿药排队太久", {"digital": "positive", "pharmacy": "negative"}),
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def sample_corpus(tmp_path) -> Path:
    return write_jsonl(tmp_path / "comments" / "sample.jsonl", SAMPLE_ROWS)


# ---- browser tests (tests/web_support.py): one `pvoice serve` per module, one browser per session ----------
@pytest.fixture(scope="module")
def web_server(request, tmp_path_factory, tiny_model_dir):
    """`pvoice serve` with the tiny model on a free port, a key per role in `.keys`. A test module seeds it with
    `WEB_SEED = [comment bodies]` (labelled by serving_support's scripted rules) and sets extra settings with
    `WEB_SETTINGS = {"session_hours": 1}`; the attribute `seeded` holds the API's answers to the seed."""
    from web_support import WebServer

    server = WebServer(tmp_path_factory.mktemp("web"), tiny_model_dir,
                       settings=getattr(request.module, "WEB_SETTINGS", {}))
    seed = getattr(request.module, "WEB_SEED", [])
    server.seeded = server.seed(seed) if seed else []
    server.start()
    yield server
    server.stop()
    assert not server.server_errors(), server.server_errors()


@pytest.fixture(scope="session")
def web_browser():
    from web_support import BROWSER

    if BROWSER is None:
        pytest.skip("no chromium on this machine (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(web_browser):
    """A fresh browser context (no cookies) and page, in Chinese, that records requests to any other host."""
    context = web_browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280,
                                                                                          "height": 900})
    page = context.new_page()
    page.outside = []
    page.on("request", lambda r: page.outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:",
                                                                                      "blob:")) else None)
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert page.outside == [], f"the page fetched from another host: {page.outside}"
