import re
from pathlib import Path

import pytest

from pvoice.labels import TaxonomyError, load_taxonomy, parse_taxonomy

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "spec" / "labels.md"


def test_sections_have_unique_ids_names_and_cues():
    tax = load_taxonomy()
    for section in (tax.touchpoints, tax.sentiments, tax.urgency, tax.urgent_reasons):
        ids = [label.id for label in section]
        assert len(ids) == len(set(ids))
        assert all(label.name and label.description and label.cues for label in section)


@pytest.mark.skipif(not CONTRACT.exists(), reason="label contract ../shared/spec/labels.md not beside the checkout")
def test_ids_match_the_label_contract():
    text = CONTRACT.read_text(encoding="utf-8")
    tax = load_taxonomy()
    touchpoint_table = text.split("## 1. Touchpoints")[1].split("## 2.")[0]
    assert tax.touchpoint_ids == re.findall(r"^\| (\w+) \| ", touchpoint_table, re.M)[1:]
    urgency_table = text.split("## 3. Urgency")[1].split("urgent_reasons")[0]
    assert tax.urgency_ids == re.findall(r"^\| (\w+) \| ", urgency_table, re.M)[1:]
    reasons_block = text.split("urgent_reasons (multi-label")[1].split("## Boundary")[0]
    assert tax.reason_ids == re.findall(r"`(\w+)` \(", reasons_block)
    assert set(tax.sentiment_ids) == {"positive", "neutral", "negative"}


def test_broken_taxonomy_names_the_problem(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("touchpoints:\n  - id: a\n    name: A\n  - id: a\n    name: B\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="duplicate id 'a'"):
        parse_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="not found"):
        parse_taxonomy(tmp_path / "missing.yaml")
