import json

from typer.testing import CliRunner

from pvoice.cli import app

runner = CliRunner()


def test_predict_prints_labels_and_evidence(tiny_model_dir):
    result = runner.invoke(app, ["predict", "--model", str(tiny_model_dir), "挂号排了三个小时"])
    assert result.exit_code == 0, result.output
    assert "touchpoints:" in result.output and "urgency:" in result.output


def test_predict_json_is_one_object_per_text(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("PVOICE_MODEL_DIR", str(tiny_model_dir))
    from pvoice.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["predict", "--json", "--no-evidence", "挂号排了三个小时", "护士很好"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert [o["text"] for o in objects] == ["挂号排了三个小时", "护士很好"]
    assert {"touchpoints", "aspects", "sentiment", "urgency", "urgent_reasons", "evidence"} <= set(objects[0])


def test_predict_refuses_empty_text_and_missing_model(tiny_model_dir, tmp_path):
    result = runner.invoke(app, ["predict", "--model", str(tiny_model_dir), "   "])
    assert result.exit_code == 2 and "empty" in result.output
    result = runner.invoke(app, ["predict", "--model", str(tmp_path), "挂号"])
    assert result.exit_code == 2 and "pvoice train" in result.output
