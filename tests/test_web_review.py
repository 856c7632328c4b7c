"""The review queue (复核): which comments it offers and why, labels confirmed or corrected in the page and stored
apart from the suggestion, impossible label sets refused with nothing stored, Cohen's kappa per head; then the
way back to training: `pvoice data export-feedback` and `pvoice train --extra`. Last, the same in Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from pvoice.cli import app as cli
from pvoice.labels import load_taxonomy
from pvoice.serving.db.models import LabelResponse, Suggestion
from pvoice.serving.services.review import kappas, uncertainty
from pvoice.settings import get_settings
from pvoice.training.corpus import read_corpus
from serving_support import Harness, make_keys, scripted_app
from web_support import client_sign_in, english_in, form_token, message_in, path_of, shot, sign_in

runner = CliRunner()
URGENT = "护士给我妈输错了液，家属电话13812345678"
CORRECT = {"touchpoints": ["nursing"], "aspects": ["nursing:negative"], "sentiment": "negative",
           "urgency": "urgent", "urgent_reasons": ["safety"]}


@pytest.fixture
def web(tmp_path, tiny_model_dir, scripted):
    app, _ = scripted_app(tmp_path, tiny_model_dir, scripted)
    with TestClient(app, base_url="https://testserver") as client:
        harness = Harness(app, client)
        harness.database_url = app.state.ctx.settings.database_url
        harness.ids = [harness.comment(t)["id"] for t in (URGENT, "排队等了三个小时", "李医生很耐心，谢谢", "奶奶摔了一跤")]
        yield harness


def _suggestion(**kw) -> Suggestion:
    values = dict(touchpoints=["waiting"], aspects={"waiting": "negative"}, sentiment="negative", urgency="complaint",
                  urgent_reasons=[], needs_review=False, review_reasons=[],
                  probabilities={"touchpoints": {"waiting": 0.95, "nursing": 0.02},
                                 "sentiment": {"negative": 0.9}, "urgency": {"complaint": 0.9}})
    values.update(kw)
    return Suggestion(**values)


def _stored(web) -> int:
    with web.ctx.factory() as session:
        return session.scalar(select(func.count()).select_from(LabelResponse))


def _review_page(web, role="manager"):
    client_sign_in(web.client, web.keys[role])
    return web.client.get("/app/review")


def _save(web, comment_id: int, token: str, **labels):
    return web.client.post(f"/app/review/{comment_id}", data={"csrf_token": token, **CORRECT, **labels},
                           follow_redirects=False)


# ---- what the queue offers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "kinds"), [
    ({}, []),
    ({"needs_review": True, "review_reasons": ["safety"]}, ["review_band"]),
    ({"probabilities": {"touchpoints": {"waiting": 0.95}, "sentiment": {"negative": 0.41},
                        "urgency": {"complaint": 0.9}}}, ["low_confidence"]),
    ({"probabilities": {"touchpoints": {"waiting": 0.95, "billing": 0.46}, "sentiment": {"negative": 0.9},
                        "urgency": {"complaint": 0.9}}}, ["near_threshold"]),
    ({"sentiment": "positive", "aspects": {"waiting": "positive"},
      "probabilities": {"touchpoints": {"waiting": 0.95}, "sentiment": {"positive": 0.9},
                        "urgency": {"complaint": 0.9}}}, ["disagreement"]),
])
def test_a_comment_is_uncertain_for_a_stated_reason(changes, kinds):
    score, why = uncertainty(_suggestion(**changes))
    assert [w.kind for w in why] == kinds and (score > 0) == bool(kinds)


def test_the_queue_offers_unreviewed_comments_with_why_and_leaves_out_what_i_labeled(web):
    html = _review_page(web).text
    offered = [int(i) for i in re.findall(r'id="item-(\d+)"', html)]
    assert sorted(offered) == sorted(web.ids)
    assert "复核区间：可能紧急" in html  # 摔了一跤 is in the scripted review band
    assert "13812345678" in html  # reviewers are managers: unmasked, as in the API
    assert _save(web, web.ids[0], form_token(html)).status_code == 303
    again = [int(i) for i in re.findall(r'id="item-(\d+)"', web.client.get("/app/review").text)]
    assert web.ids[0] not in again and len(again) == 3


def test_a_comment_labeled_by_someone_else_comes_back_as_a_second_opinion(web):
    _save(web, web.ids[0], form_token(_review_page(web).text))
    web.client.cookies.clear()
    other = make_keys(web.app, roles=("manager",))["manager"]
    client_sign_in(web.client, other)
    html = web.client.get("/app/review").text
    item = html[html.index(f'id="item-{web.ids[0]}"'):].split("</section>")[0]
    assert 'data-why="second_opinion"' in item


def test_sure_comments_are_drawn_into_a_daily_audit_sample_that_stays_put_through_the_day(web):
    from sqlalchemy import update

    from pvoice.serving.services.review import AUDIT_SAMPLE, review_queue

    sure = {"touchpoints": {"waiting": 0.97}, "sentiment": {"negative": 0.95}, "urgency": {"complaint": 0.95}}
    with web.ctx.factory() as session:
        session.execute(update(Suggestion).values(probabilities=sure, touchpoints=["waiting"],
                                                  aspects={"waiting": "negative"}, sentiment="negative",
                                                  urgency="complaint", urgent_reasons=[], needs_review=False))
        session.commit()
        for n in range(8):
            web.comment(f"第{n}条：窗口的人很多")
        session.execute(update(Suggestion).values(probabilities=sure, needs_review=False))
        session.commit()

        def audit(day):
            queue = review_queue(session, reviewer="r#1", today=day)
            assert all([w.kind for w in item.why] == ["audit"] for item in queue)
            return [item.comment.id for item in queue]

        first = audit(date(2026, 3, 2))
        assert len(first) == AUDIT_SAMPLE and audit(date(2026, 3, 2)) == first
        assert any(audit(date(2026, 3, d)) != first for d in range(3, 10))  # another day, another sample


# ---- saving labels ----------------------------------------------------------------------------------------------
def test_confirmed_labels_are_stored_apart_from_the_suggestion_with_who_when_and_model_version(web):
    token = form_token(_review_page(web).text)
    response = _save(web, web.ids[1], token, touchpoints=["waiting"], aspects=["waiting:negative"],
                     urgency="complaint", urgent_reasons=[], note="核实属实")
    assert response.status_code == 303 and response.headers["location"] == f"/app/review?saved={web.ids[1]}"
    labels = web.get("manager", f"/v1/comments/{web.ids[1]}/labels").json()
    (human,) = labels["responses"]
    assert human["touchpoints"] == ["waiting"] and human["urgency"] == "complaint" and human["note"] == "核实属实"
    assert human["author"] == "test-manager#3" and human["suggestion_model_version"] == "tiny-random-0"
    assert labels["suggestion"]["touchpoints"] == ["waiting", "registration"]  # the suggestion is untouched


@pytest.mark.parametrize(("labels", "words"), [
    ({"urgent_reasons": []}, "至少选择一个紧急原因"),  # urgent without a reason
    ({"urgency": "complaint"}, "不紧急时不能选择紧急原因"),  # a reason without urgent
    ({"aspects": ["nursing:negative", "billing:negative"]}, "没有选中的触点不能有情感"),  # an aspect without its touchpoint
    ({"aspects": []}, "每个选中的触点都要选择它的情感"),  # a touchpoint without its aspect
    ({"touchpoints": [], "aspects": []}, "至少选择一个触点"),
    ({"sentiment": "angry"}, "整体情感"),
    ({"aspects": ["nursing"]}, "触点"),  # not touchpoint:sentiment
])
def test_an_impossible_label_set_is_422_with_a_message_and_nothing_stored(web, labels, words):
    token = form_token(_review_page(web).text)
    response = _save(web, web.ids[0], token, **labels)
    assert response.status_code == 422
    message = message_in(response.text, "review-errors")
    assert message.startswith(f"意见 #{web.ids[0]}：标签组合不成立，没有保存：") and words in message
    assert not english_in(message)
    assert _stored(web) == 0
    assert f'id="item-{web.ids[0]}"' in response.text  # the form is there again, with what was typed


def test_the_labels_api_refuses_the_same_set_in_english_with_its_code(web):
    body = {**CORRECT, "aspects": {"nursing": "negative"}, "urgent_reasons": []}
    response = web.post("manager", f"/v1/comments/{web.ids[0]}/labels", body)
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_input", "field": "urgent_reasons",
                                        "message": "urgent_reasons: must be non-empty exactly when urgency is 'urgent'"}
    assert _stored(web) == 0


def test_saving_labels_needs_the_csrf_token_and_a_reviewer(web):
    _review_page(web)
    assert web.client.post(f"/app/review/{web.ids[0]}", data=CORRECT).status_code == 403
    web.client.cookies.clear()
    client_sign_in(web.client, web.keys["agent"])
    token = form_token(web.client.get("/app/cases").text)
    assert _save(web, web.ids[0], token).status_code == 403
    assert _stored(web) == 0


def test_labels_for_a_missing_comment_are_a_404(web):
    assert _save(web, 999, form_token(_review_page(web).text)).status_code == 404


# ---- agreement ------------------------------------------------------------------------------------------------
def _labels(tps, sentiment="negative", urgency="complaint", reasons=()):
    return {"touchpoints": list(tps), "aspects": dict.fromkeys(tps, sentiment), "sentiment": sentiment,
            "urgency": urgency, "urgent_reasons": list(reasons)}


def test_kappa_per_head_is_one_for_agreement_and_undefined_for_one_class():
    tax = load_taxonomy()
    pairs = [(_labels(["waiting"]), _labels(["waiting"])), (_labels(["billing"], "positive", "none"),
                                                              _labels(["billing"], "positive", "none"))]
    by_head = {a.head: a for a in kappas(pairs, tax)}
    assert by_head["sentiment"].kappa == pytest.approx(1.0) and by_head["touchpoints"].kappa == pytest.approx(1.0)
    assert by_head["urgent_reasons"].kappa is None  # nobody chose a reason: kappa is undefined, shown as —
    disagree = [(_labels(["waiting"]), _labels(["billing"], "positive", "none")),
                (_labels(["billing"], "positive", "none"), _labels(["waiting"]))]
    assert {a.head: a for a in kappas(disagree, tax)}["sentiment"].kappa == pytest.approx(-1.0)


def test_the_page_shows_kappa_between_reviewers_and_with_the_model(web):
    token = form_token(_review_page(web).text)
    for comment_id in web.ids[:2]:
        assert _save(web, comment_id, token).status_code == 303
    web.client.cookies.clear()
    client_sign_in(web.client, make_keys(web.app, roles=("manager",))["manager"])
    token = form_token(web.client.get("/app/review").text)
    assert _save(web, web.ids[0], token).status_code == 303
    assert _save(web, web.ids[1], token, sentiment="neutral").status_code == 303
    html = web.client.get("/app/review").text
    reviewers = re.search(r'<tr data-source="reviewers">(.*?)</tr>', html, re.S).group(1)
    model = re.search(r'<tr data-source="model">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'data-head="touchpoints">1\.00<', reviewers) and "2 条" in reviewers
    assert re.search(r'data-head="sentiment">(-?\d\.\d\d|—)<', reviewers)
    assert "2 条" in model


# ---- back to training ---------------------------------------------------------------------------------------
@pytest.fixture
def cli_db(web, monkeypatch):
    monkeypatch.setenv("PVOICE_DATABASE_URL", web.database_url)
    get_settings.cache_clear()
    yield web
    get_settings.cache_clear()


def test_export_feedback_writes_reviewed_comments_in_the_corpus_format_with_masked_texts(cli_db, tmp_path):
    web = cli_db
    token = form_token(_review_page(web).text)
    assert _save(web, web.ids[0], token).status_code == 303
    out = tmp_path / "feedback.jsonl"
    result = runner.invoke(cli, ["data", "export-feedback", "-o", str(out)])
    assert result.exit_code == 0 and "wrote 1 reviewed comment" in result.output, result.output
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["id"] == f"pv-{web.ids[0]}" and "138****5678" in row["text"] and "13812345678" not in row["text"]
    assert row["urgency"] == "urgent" and row["labeled_by"] == "test-manager#3"
    (read,) = read_corpus([out])
    assert read.urgent_reasons == ["safety"] and read.source == "written"


@pytest.mark.parametrize(("name", "words"), [("feedback.csv", "FILE.jsonl"), ("missing/feedback.jsonl", "no folder")])
def test_export_feedback_refuses_a_bad_output_in_one_line(cli_db, tmp_path, name, words):
    result = runner.invoke(cli, ["data", "export-feedback", "-o", str(tmp_path / name)])
    assert result.exit_code == 2 and result.output.startswith("error: ") and words in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_export_feedback_names_a_missing_database(tmp_path, monkeypatch):
    monkeypatch.setenv("PVOICE_DATABASE_URL", f"sqlite:///{tmp_path / 'nowhere.db'}")
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["data", "export-feedback", "-o", str(tmp_path / "f.jsonl")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "pvoice db upgrade" in result.output
    assert len(result.output.strip().splitlines()) == 1


def _feedback(tmp_path, rows: list[dict]):
    path = tmp_path / "feedback.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(i: int, text: str) -> dict:
    return {"id": f"pv-{i}", "text": text, "touchpoints": ["nursing"], "aspects": {"nursing": "negative"},
            "sentiment": "negative", "urgency": "urgent", "urgent_reasons": ["safety"], "channel": "wechat",
            "source": "written"}


def test_train_extra_adds_reviewed_rows_to_training_only_and_the_model_card_counts_them(tmp_path, small_corpus,
                                                                                        tiny_base):
    from pvoice.model.config import ClassifierConfig
    from pvoice.training.args import TrainArgs
    from pvoice.training.data import split_rows
    from pvoice.training.trainer import train

    held_out = split_rows(read_corpus([small_corpus]))["test"][0].text
    extra = _feedback(tmp_path, [_row(1, "护士把药发错了床号，家属当场发现"), _row(2, "夜里呼叫铃按了半小时没人来，病人差点摔倒"),
                                 _row(3, held_out)])
    args = TrainArgs(output_dir=tmp_path / "model", base_model=str(tiny_base), data=[str(small_corpus)],
                     extra=[str(extra)], epochs=1, max_length=64, batch_size=16, freeze_layers=0,
                     freeze_embeddings=False, out_of_domain=False)
    result = train(args, progress=False)
    assert result.reviewed == {"files": [str(extra)], "rows": 2, "left_out": 1}
    config = ClassifierConfig.load(result.output_dir)
    plain = len(split_rows(read_corpus([small_corpus]))["train"])
    assert config.metrics["split_sizes"]["train"] == plain + 2
    assert config.metrics["reviewed_rows"]["rows"] == 2
    card = (result.output_dir / "README.md").read_text(encoding="utf-8")
    assert "Reviewed rows from the review queue (`--extra`): **2**" in card and "1 left out" in card


def test_train_extra_refuses_an_invalid_row_in_one_line(tmp_path, small_corpus):
    bad = _feedback(tmp_path, [{**_row(1, "护士输错液"), "urgent_reasons": []}])
    result = runner.invoke(cli, ["train", "--arch", "linear", "--output_dir", str(tmp_path / "m"), "--data",
                                 str(small_corpus), "--extra", str(bad)])
    assert result.exit_code == 2 and result.output.startswith("error: invalid labeled row: ")
    assert "urgent_reasons" in result.output and len(result.output.strip().splitlines()) == 1


# ---- in a browser, against `pvoice serve` ------------------------------------------------------------------
WEB_SEED = [{"text": t, "channel": "wechat", "received_at": "2026-03-02T09:00:00+08:00", "department": "心内科"}
            for t in ("奶奶在病房摔了一跤，护士说没事，家属电话13798765432", "排队等了两个小时", "李医生讲得很清楚，谢谢")]


def test_in_a_browser_a_correction_is_saved_exported_and_read_by_train_extra(web_server, page, tmp_path,
                                                                            small_corpus):
    sign_in(page, web_server, web_server.keys["manager"])
    page.goto(f"{web_server.url}/app/review")
    assert path_of(page) == "/app/review"
    item = page.locator(".review-item").filter(has_text="摔了一跤").first
    assert item.locator('[data-why="review_band"]').count() == 1
    shot(page, "review")

    # the reviewer decides it is urgent but forgets the reason: refused, nothing stored
    item.locator("select[name=urgency]").select_option("urgent")
    for box in item.locator("input[name=urgent_reasons]").all():
        box.uncheck()
    with page.expect_response(lambda r: "/app/review/" in r.url and r.request.method == "POST") as answer:
        item.locator("button[type=submit]").click()
    assert answer.value.status == 422
    assert "至少选择一个紧急原因" in page.locator("#review-errors").inner_text()
    shot(page, "review-refused")

    item = page.locator(".review-item.has-error")
    item.locator('input[name=urgent_reasons][value="safety"]').check()
    for box in item.locator("input[name=touchpoints]").all():
        box.uncheck()
    for select in item.locator("select[name=aspects]").all():
        select.select_option("")
    item.locator('input[name=touchpoints][value="inpatient"]').check()
    item.locator('select[name=aspects][aria-label^="住院出院"]').select_option("inpatient:negative")
    item.locator("select[name=sentiment]").select_option("negative")
    item.locator("button[type=submit]").click()
    page.wait_for_url("**/app/review?saved=*")
    assert "已保存" in page.locator("#saved").inner_text()
    shot(page, "review-saved")

    out = tmp_path / "feedback.jsonl"
    env = {**web_server.env}
    exported = subprocess.run([sys.executable, "-m", "pvoice", "data", "export-feedback", "-o", str(out)], env=env,
                              capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["touchpoints"] == ["inpatient"] and row["urgent_reasons"] == ["safety"]
    assert "137****5432" in row["text"] and row["labeled_by"].startswith("测试-manager")

    trained = subprocess.run([sys.executable, "-m", "pvoice", "train", "--arch", "linear", "--output_dir",
                              str(tmp_path / "model"), "--data", str(small_corpus), "--extra", str(out)],
                             env=env, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "reviewed rows added to training: 1" in trained.stdout
    assert "**1**" in (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
