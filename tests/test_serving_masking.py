"""Personal identifiers are masked in texts and in the service's logs."""

from __future__ import annotations

import json
import logging

import pytest

from pvoice.serving.logs import JsonFormatter
from pvoice.serving.masking import hash_patient_ref, mask_pii


@pytest.mark.parametrize(("text", "hidden", "kept"), [
    ("我的电话13812345678请回电", "13812345678", "138****5678"),
    ("电话 +86 139-1234-5678", "1234", "139****5678"),
    ("身份证号110101199003071234", "110101199003071234", "110"),
    ("身份证11010119900307123X", "11010119900307123X", "110"),
    ("病历号：A1234567，住院号 998877", "A1234567", "病历号："),
    ("门诊号:20240501", "20240501", "门诊号:"),
    ("座机010-62345678", "62345678", "010-****"),
])
def test_identifiers_are_masked(text, hidden, kept):
    masked = mask_pii(text)
    assert hidden not in masked and kept in masked


@pytest.mark.parametrize("text", ["挂号等了3个小时", "2026年3月2日下午3点", "CT报告等了五天", "第12345号床位太吵"])
def test_ordinary_numbers_stay(text):
    assert mask_pii(text) == text


def test_patient_ref_hash_is_salted_and_stable():
    assert hash_patient_ref("P-1", "a") == hash_patient_ref(" P-1 ", "a") != hash_patient_ref("P-1", "b")


def test_json_logs_mask_messages_and_fields():
    record = logging.LogRecord("pvoice", logging.INFO, __file__, 1, "from %s", ("13812345678",), None)
    record.text = "身份证110101199003071234"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "from 138****5678" and "110101199003071234" not in entry["text"]
    assert entry["level"] == "info" and entry["logger"] == "pvoice"
