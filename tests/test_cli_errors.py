"""Bad input to the `pvoice` command ends in one line, `error: <what> — <how to fix>`, never a traceback
(issue 14, part 2); `--debug` shows the traceback."""

from __future__ import annotations

import os
import shutil

import pytest

from pvoice.cli import app
from pvoice.cli_errors import run_cli
from pvoice.settings import get_settings


@pytest.fixture
def pvoice(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, **env: str) -> tuple[int, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        argv = ["pvoice", *args]
        with pytest.raises(SystemExit) as exited:
            run_cli(lambda: app(args=argv[1:], prog_name="pvoice"), argv)
        get_settings.cache_clear()
        return exited.value.code, capsys.readouterr().err

    yield invoke
    os.environ.pop("PVOICE_DEBUG", None)  # set by `--debug`, as for the rest of a real process
    get_settings.cache_clear()


def _one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def csv_input(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("意见\n挂号排队太久\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("content", [b"", b"this is a csv renamed to xlsx\n"])
def test_an_unreadable_xlsx_is_one_line(pvoice, tmp_path, tiny_model_dir, content):
    (tmp_path / "in.xlsx").write_bytes(content)
    code, err = pvoice("score", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.csv"), "--model",
                       str(tiny_model_dir))
    line = _one_error_line(err)
    assert code == 2 and "not a readable XLSX" in line and "— open it" in line


def test_a_corrupt_parquet_is_one_line(pvoice, tmp_path, tiny_model_dir):
    (tmp_path / "in.parquet").write_bytes(b"PAR1 not really parquet")
    code, err = pvoice("score", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.csv"), "--model",
                       str(tiny_model_dir))
    assert code == 2 and "not a readable Parquet file" in _one_error_line(err)


def test_a_missing_model_directory_is_one_line(pvoice, tmp_path, csv_input):
    code, err = pvoice("score", str(csv_input), "-o", str(tmp_path / "out.csv"), "--model", str(tmp_path / "nope"))
    line = _one_error_line(err)
    assert code == 2 and "no model directory" in line and "make model" in line


@pytest.mark.parametrize("damage", ["heads.safetensors", "classifier.json", "encoder/config.json", "tokenizer"])
def test_a_damaged_model_is_one_line(pvoice, tmp_path, tiny_model_dir, damage):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    if damage == "tokenizer":
        shutil.rmtree(model / "tokenizer")
    else:
        assert (model / damage).is_file()
        (model / damage).write_bytes(b"{ not json \x00\x01")
    code, err = pvoice("predict", "挂号排队太久", "--model", str(model))
    line = _one_error_line(err)
    assert code == 2 and str(model) in line and "—" in line


@pytest.mark.parametrize("url,expect", [
    ("not a url at all", "is not a database URL"),
    ("mysql+nosuchdriver://x/y", "is not a database URL"),
    ("postgresql://pv:pw@127.0.0.1:1/pvoice", "cannot use the database"),
])
def test_a_bad_database_url_is_one_line(pvoice, url, expect):
    code, err = pvoice("db", "upgrade", PVOICE_DATABASE_URL=url)
    line = _one_error_line(err)
    assert expect in line and "—" in line and code in (1, 2)
    assert "pw" not in line.replace("password", "")  # the password of the URL is not repeated


def test_a_setting_of_the_wrong_type_is_one_line(pvoice):
    code, err = pvoice("db", "upgrade", PVOICE_PORT="abc")
    line = _one_error_line(err)
    assert code == 2 and "PVOICE_PORT" in line


def test_a_sqlite_path_in_a_missing_folder_is_refused(pvoice, tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'pv.db'}"
    code, err = pvoice("keys", "list", PVOICE_DATABASE_URL=url)
    assert code == 2 and "no folder" in _one_error_line(err)
    assert not (tmp_path / "no-such-folder").exists()


def test_a_new_database_outside_the_default_path_needs_db_upgrade(pvoice, tmp_path):
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    code, err = pvoice("keys", "list", PVOICE_DATABASE_URL=url)
    assert code == 2 and "pvoice db upgrade" in _one_error_line(err)
    assert not (tmp_path / "typo.db").exists()
    code, _ = pvoice("db", "upgrade", PVOICE_DATABASE_URL=url)
    assert code in (0, None) and (tmp_path / "typo.db").exists()


def test_serve_without_a_model_is_one_line_before_the_server_starts(pvoice, tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    assert pvoice("db", "upgrade", PVOICE_DATABASE_URL=url)[0] in (0, None)
    code, err = pvoice("serve", PVOICE_DATABASE_URL=url, PVOICE_MODEL_DIR=str(tmp_path / "missing"), PVOICE_LOG_JSON="false")
    line = _one_error_line(err)
    assert code == 2 and "no model at" in line


def test_debug_shows_the_traceback(pvoice, tmp_path, csv_input):
    with pytest.raises(Exception, match="no model directory"):
        pvoice("--debug", "score", str(csv_input), "-o", str(tmp_path / "out.csv"), "--model", str(tmp_path / "x"))
