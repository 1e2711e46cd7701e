"""Paper-ready outputs: every headline number as a LaTeX macro, the headline table as CSV and LaTeX, PDF figures."""

from __future__ import annotations

import csv
import io
import re

import pytest

from hebbdam import paper_export, report

from .conftest import REPO_ROOT

METRICS = REPO_ROOT / "reports" / "metrics"


def test_every_non_null_headline_number_is_a_macro_with_its_rounded_value(tmp_path):
    numbers = paper_export.headline_numbers(METRICS / "headline")
    text = paper_export.macros(numbers)
    defined = dict(re.findall(r"\\newcommand\{\\(hebb[A-Za-z]+)\}\{([^}]*)\}", text))
    keyed = dict(re.findall(r"\\csname hebbdam@([^\\]+)\\endcsname\{([^}]*)\}", text))
    present = {key: value for key, value in numbers.items() if value is not None}
    assert present, "no headline numbers in the committed record"
    assert len(defined) == len(keyed) == len(present)
    for key, value in present.items():
        assert float(keyed[key]) == pytest.approx(value, rel=1e-3, abs=1e-12), key
        assert defined[paper_export.control_word(key)] == keyed[key]
    for key in (key for key, value in numbers.items() if value is None):
        assert f"% {key}: null" in text and key not in keyed


def test_control_words_are_letters_only_and_spell_digits():
    word = paper_export.control_word("recall/free.setting1.hebb.N16.accuracy")
    assert word == "hebbRecallFreeSettingOneHebbNOneSixAccuracy"
    assert re.fullmatch(r"[A-Za-z]+", word)


def test_two_keys_that_give_one_control_word_are_refused():
    with pytest.raises(ValueError, match="both give the macro"):
        paper_export.macros({"a/x_1": 1.0, "a/x.1": 2.0})


def test_headline_table_exports_carry_the_report_rows(tmp_path):
    _, rows = report.build_with_rows(METRICS)
    paper_export.write(tmp_path, METRICS / "headline", rows)
    table = list(csv.DictReader(io.StringIO((tmp_path / "headline.csv").read_text(encoding="utf-8"))))
    assert [row["quantity"] for row in table] == [row["quantity"] for row in rows]
    assert [row["verdict"] for row in table] == [row["verdict"] for row in rows]
    tex = (tmp_path / "headline.tex").read_text(encoding="utf-8")
    body = [line for line in tex.splitlines() if line.endswith("\\\\")][1:]  # the header row first
    assert len(body) == len(rows)
    assert all(line.count(" & ") == 6 for line in body), "an unescaped & split a row"


def test_figures_are_also_written_as_pdf_without_a_timestamp(tmp_path):
    from hebbdam.figures import draw_all

    draw_all(METRICS, tmp_path, ["sequences"])
    first = (tmp_path / "sequences.pdf").read_bytes()
    assert first.startswith(b"%PDF") and b"CreationDate" not in first
    draw_all(METRICS, tmp_path, ["sequences"])
    assert (tmp_path / "sequences.pdf").read_bytes() == first
