from __future__ import annotations

import json

from eval.plots import plot_categories, plot_systems
from eval.report import markdown_table, write_report


def test_report_json_and_markdown(tmp_path):
    rep = {"systems": {"ambig": {"f1": 0.5, "categories": {"complete": 2, "no_answer": 1}},
                       "baseline": {"f1": 0.25, "categories": {"complete": 1, "no_answer": 2}}}}
    md = write_report(rep, tmp_path / "r.json", tmp_path / "r.md", title="T")
    assert "| ambig | 0.500 |" in md and "## Categories" in md
    assert json.loads((tmp_path / "r.json").read_text())["systems"]["baseline"]["f1"] == 0.25
    assert markdown_table([]) == "(no rows)\n"


def test_plots_write_png(tmp_path):
    p1 = plot_categories({"ambig": {"complete": 3, "merged": 1}, "baseline": {"no_answer": 4}}, tmp_path / "c.png")
    p2 = plot_systems({"ambig": {"em": 0.4, "f1": 0.5}, "baseline": {"em": 0.2, "f1": 0.3}}, tmp_path / "s.png")
    for p in (p1, p2):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
