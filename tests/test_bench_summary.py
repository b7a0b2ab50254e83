"""The README's speed summary is generated from bench/results/ (bench/summary.py), and its verdicts can fail."""

import pytest

from bench import summary
from bench.summary import FormatError


def test_the_readme_block_is_what_the_committed_results_give():
    """Re-running a bench without `python bench/summary.py --readme` (or editing the block by hand) fails here."""
    expected = summary.render(summary.rows())
    assert summary.readme_block(summary.README.read_text()) == expected


def test_every_target_has_a_row_read_from_its_file():
    rows = summary.rows()
    sources = {row.source.split(",")[0] for row in rows}
    assert sources == set(summary.READERS)
    assert sum(row.target.startswith("Page ") for row in rows) == 7
    assert all(row.verdict in ("met", "not met", "undecided") for row in rows)


PAGES = """Page render benchmark, 2026-01-01 10:00 UTC, 2 cores
| page | cold process (s) | warm (s, median of 8) | reference | warm / reference | 95% interval | target <= 1.2x |
|---|---:|---:|---|---:|---|---|
| home | 3.12 | 1.10 | bare page | 1.05x | [1.01, 1.15] | not met |
| map | 4.62 | 1.42 | bare page | 1.28x | [1.22, 1.37] | met |
| search | 4.08 | 1.42 | bare page | 1.29x | [1.18, 1.35] | met |
"""


def test_page_verdicts_come_from_the_interval_not_from_the_file():
    rows = summary.pages(PAGES)
    assert [r.verdict for r in rows] == ["met", "not met", "undecided"]
    assert rows[0].source == "pages-default.txt, 2026-01-01 10:00 UTC"


def test_single_runs_are_judged_by_their_value():
    fast = "build, 2026-01-01 10:00 UTC\nlast build-demo, seconds per step (...):\n  models       300.0\n  total        590.0\n"
    slow = fast.replace("590.0", "601.0")
    assert summary.build(fast)[0].verdict == "met" and summary.build(slow)[0].verdict == "not met"
    features = ("features of 10 tracks (ws):\n  1 process(es):    10.0 s wall,   9.0 s CPU\n"
                "  2 process(es):     6.0 s wall,  11.0 s CPU\n  parallel / serial wall time: 0.60; "
                "bit-identical arrays: {}\n")
    assert summary.features(features.format("True"))[0].verdict == "met"
    assert summary.features(features.format("False"))[0].verdict == "not met"  # same speed, other features
    assert summary.features(features.format("True").replace("6.0 s wall", "12.0 s wall"))[0].verdict == "not met"


def test_a_result_file_that_no_longer_parses_is_named():
    with pytest.raises(FormatError, match="map.txt: no 100,000-track row"):
        summary.map_render("Map benchmark\n| 50,000 | 0.1 | 0.1 | 1.0 | 2.0 | 1.9 [1.8, 2.0] | x | y |\n")
    with pytest.raises(FormatError, match="README.md has no generated speed summary"):
        summary.readme_block("# a README without the markers\n")
