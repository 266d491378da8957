"""labench report: one self-contained HTML page, checked with a real HTML parser."""

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import rescaled

from labench.results import model as results
from labench.results import reader
from labench.results.model import ClaimResult

SKIP_REASON = "backend cupy unavailable: CuPy is not installed (test)"
VERDICT_COLOURS = np.array([[0x9A, 0x67, 0x00], [0xC0, 0x10, 0x10], [0x18, 0x7A, 0x2F]]) / 255
"""The page's colours of unsure, slower and same/faster: its headline is one of them."""


class Page(HTMLParser):
    """The page's visible text, every tag with its attributes, and the text of each row."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.chunks, self.rows, self.open = [], [], [], []
        self.row = None
        self.feed(text)
        self.close()
        self.text = " ".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.row = (dict(attrs), [])
            self.rows.append(self.row)
        self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data):
        if data.strip() and not {"script", "style"} & set(self.open):
            self.chunks.append(data.strip())
            if self.row is not None and "tr" in self.open:
                self.row[1].append(data.strip())


@pytest.fixture(scope="module")
def runs(quick_run, tmp_path_factory):
    """Three runs of one machine (the newest 40% slower, claims added) and one of another."""
    folder = tmp_path_factory.mktemp("report")
    base = reader.load(quick_run)
    # Two benchmarks are enough to check every section, and keep the figures few (fast).
    base.cases = [case for case in base.cases if case.benchmark in ("matvec", "lowrank")]
    for case in base.cases:  # a known noise model: each run's median known to +-1%
        if case.timing is not None:
            median = case.timing.median
            case.timing = case.timing.model_copy(update={"ci95": (0.99 * median, 1.01 * median)})
    later = [
        rescaled(base, factor, id=f"later{index}", started=f"2099-01-0{index + 1}T00:00:00+00:00")
        for index, factor in enumerate((1.02, 0.99, 1.4, 1.41, 1.39))
    ]
    later[-1].claims = [
        ClaimResult(
            id="parallel-helps",
            text="prange beats one core",
            benchmark="parallel",
            status="failed",
            value=0.8,
            ci=(0.7, 0.9),
            bound=">= 1.5",
            points=1,
        ),
        ClaimResult(
            id="lowrank-pays",
            text="rank 30 is faster",
            benchmark="lowrank",
            status="held",
            value=2.4,
            bound=">= 1.2",
            points=1,
        ),
    ]
    other = rescaled(base, 0.5, id="elsewhere")
    other.environment = base.environment.model_copy(
        update={"machine_id": "other-machine", "cpu": "Other CPU"}
    )
    paths = [folder / "0-base.json"]
    results.save(base, paths[0])
    for index, result in enumerate([*later, other]):
        paths.append(folder / f"{index + 1}-{result.run.id}.json")
        results.save(result, paths[-1])
    return paths


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory):
    from typer.testing import CliRunner

    from labench.commands.app import app

    out = tmp_path_factory.mktemp("page") / "report.html"
    shown = CliRunner().invoke(app, ["report", *map(str, runs), "-o", str(out)])
    assert shown.exit_code == 0, shown.output
    return out


@pytest.fixture(scope="module")
def pair(quick_run, tmp_path_factory):
    """A page of two runs as a user makes them (one process each), the second 40% slower, with
    several cases of each skipped for one reason, and a claim."""
    folder = tmp_path_factory.mktemp("pair")
    base = reader.load(quick_run)
    base.cases = [case for case in base.cases if case.benchmark in ("matvec", "lowrank")]
    skipped = 0
    for index, case in enumerate(base.cases):
        if case.backend == "cupy" or case.implementation == "numba_parallel":
            skipped += 1
            base.cases[index] = case.model_copy(
                update={
                    "status": "skipped",
                    "backend": "cupy",
                    "reason": SKIP_REASON,
                    "timing": None,
                    "metrics": {},
                    "flags": [],
                }
            )
    assert skipped >= 2
    slower = rescaled(base, 1.4, id="slower")
    slower.claims = [
        ClaimResult(
            id="svd-pays",
            text="svd beats dense",
            benchmark="lowrank",
            status="held",
            value=2.0,
            bound=">= 1.2",
            points=1,
        )
    ]
    results.save(base, folder / "base.json")
    results.save(slower, folder / "slower.json")
    out = folder / "pair.html"
    from labench.present.html import write

    write([folder / "base.json", folder / "slower.json"], out)
    return out


def test_the_page_leads_with_the_comparison_then_machines_results_figures(page):
    text = page.read_text(encoding="utf-8")

    def at(marker):
        assert marker in text, marker
        return text.index(marker)

    order = [
        'id="comparisons"',
        'class="headline',
        'table class="comparison',
        'id="claims"',
        'id="history"',
        'id="machines"',
        'id="runs"',
        'table class="results',
        'id="figures"',
        "<figure",
    ]
    places = [at(marker) for marker in order]
    assert places == sorted(places), sorted(zip(places, order, strict=True))
    # nothing of a run's results comes before the comparison: every result row is below it
    assert min(match.start() for match in re.finditer("data-key=", text)) > at('id="runs"')
    assert at('table class="comparison') < at("<svg")
    parsed = Page(text)
    assert parsed.text.index("Comparisons") < parsed.text.index("Machine ")


def test_the_summary_leads_in_words_with_commands_as_code(pair):
    text = pair.read_text(encoding="utf-8")
    headline = re.search(r'<p class="headline (\w+)">(.*?)</p>', text, re.S)
    assert headline and headline.group(1) in ("unsure", "slower"), headline
    assert "base.json" in headline.group(2) and "beyond 10%" in headline.group(2)
    summary = re.search(r'<ul class="summary">(.*?)</ul>', text, re.S).group(1)
    assert text.index('<ul class="summary">') < text.index('table class="comparison')
    # one process per run: the note says how to decide, its commands as code, no backtick
    assert "<code>" in summary and "`" not in summary
    assert "`" not in Page(text).text
    assert "<code>labench run SUITE --baseline BASE.json</code>" in summary


def test_inline_code_escapes_and_marks_backticked_spans():
    from labench.present.html import inline_code

    assert str(inline_code("run `a <b>` & `c`")) == (
        "run <code>a &lt;b&gt;</code> &amp; <code>c</code>"
    )
    assert str(inline_code("one ` only")) == "one ` only"


def test_cases_skipped_for_one_reason_are_one_line_per_run(pair):
    text = pair.read_text(encoding="utf-8")
    parsed = Page(text)
    assert parsed.text.count(SKIP_REASON) == 2  # once for each run, not once a case
    skipped = [case for case in reader.load(pair.parent / "base.json").cases if case.reason]
    assert len(skipped) >= 2
    assert f"skipped ({len(skipped)} cases): {SKIP_REASON}" in " ".join(parsed.text.split())
    notes = re.findall(r'<ul class="notes">(.*?)</ul>', text, re.S)
    assert len(notes) == 2 and all(note.count("<li>") == 1 for note in notes)
    # every skipped case is still named, folded away, and still has its row
    for case in skipped:
        assert f"<code>{case.key}</code>" in notes[0] and f'data-key="{case.key}"' in text


def test_figures_are_titled_in_words_and_speedups_on_a_log_scale(quick_run, page):
    from labench.present.plot import figures

    text = page.read_text(encoding="utf-8")
    for caption in re.findall(r"<figcaption>(.*?)</figcaption>", text, re.S):
        assert " " in caption and not re.fullmatch(r"[\w-]+", caption), caption

    result = reader.load(quick_run)
    result.cases = [case for case in result.cases if case.benchmark == "matvec"]
    slow = next(case for case in result.cases if case.implementation == "numba" and case.timing)
    slow.timing = slow.timing.model_copy(
        update={"median": 500 * slow.timing.median, "ci95": None}
    )  # 1/500 of the baseline's speed: a bar far below 0.1x
    made = {figure.name: figure for figure in figures(result, None)}
    speedup = made["speedup-matvec"]
    assert speedup.title.startswith("matvec: speedup over numpy")
    axes = speedup.figure.axes[0]
    assert axes.get_yscale() == "log"
    assert axes.get_ylim()[0] < 1 / 500 < 1 < axes.get_ylim()[1]
    ticks = [label.get_text() for label in axes.get_xticklabels()]
    assert ticks and all("/" not in tick and len(tick) < 30 for tick in ticks), ticks
    assert any("thread" in tick for tick in ticks), ticks  # what varies: the thread count
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "numba" in legend and "numpy (baseline, 1x)" in legend  # the series: implementations


def test_every_case_claim_and_machine_of_the_inputs_appears(runs, page):
    parsed = Page(page.read_text(encoding="utf-8"))
    loaded = [reader.load(path) for path in runs]
    for result in loaded:
        assert result.environment.machine_id in parsed.text
        assert result.run.id in parsed.text
        rows = {row[0].get("data-key"): row[1] for row in parsed.rows}
        for case in result.cases:
            cells = rows[case.key]
            assert case.implementation in cells and case.status in cells
        for claim in result.claims:
            assert claim.id in parsed.text and claim.text in parsed.text
    assert "Other CPU" in parsed.text and "failed" in parsed.text and "held" in parsed.text


def test_the_page_is_self_contained_and_has_the_figures(page):
    parsed = Page(page.read_text(encoding="utf-8"))
    for tag, attributes in parsed.tags:
        assert tag not in ("link", "iframe", "img")
        assert not (attributes.get("src") or "").strip(), (tag, attributes)
        assert not (attributes.get("href") or "#").lstrip().startswith(("http", "//"))
    figures = [attributes.get("id", "") for tag, attributes in parsed.tags if tag == "figure"]
    assert sum(name.startswith("figure-") for name in figures) >= 4
    assert any(name.startswith("history-") for name in figures)
    assert sum(tag == "svg" for tag, _ in parsed.tags) == len(figures)


def test_comparison_and_history_sections_hold_the_slowdown(runs, page):
    parsed = Page(page.read_text(encoding="utf-8"))
    assert "Comparisons" in parsed.text and "History" in parsed.text
    step_rows = [cells for _, cells in parsed.rows if "slower" in cells and "ratio" not in cells]
    ok = [case for case in reader.load(runs[0]).cases if case.status == "ok"]
    assert len(step_rows) == len(ok)
    assert all(any(cell.endswith("later2") for cell in cells) for cells in step_rows)
    assert "Machine other-machine" in parsed.text and "6 runs in" in parsed.text


def test_refuses_to_overwrite_and_reports_bad_input(cli, runs, page, tmp_path):
    assert cli("report", runs[0], "-o", page).exit_code == 2
    assert cli("report", runs[0], "-o", page, "--force").exit_code == 0
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"schema": "labench.result/1"}')
    refused = cli("report", damaged, "-o", tmp_path / "x.html")
    assert refused.exit_code == 2 and "damaged.json" in refused.output


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.mark.skipif(
    not any(shutil.which(name) for name in BROWSERS), reason="no headless browser installed"
)
def test_a_headless_browser_opens_the_page_without_console_errors(page, tmp_path):
    browser = next(shutil.which(name) for name in BROWSERS if shutil.which(name))
    opened = subprocess.run(
        [
            browser,
            *HEADLESS,
            "--enable-logging=stderr",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr[-2000:]
    console = [line for line in opened.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console
    # The sorting script ran to its end: it titles every sortable heading.
    assert 'class="sortable" title="sort"' in opened.stdout


def test_runs_of_one_suite_without_a_common_case_are_noted_not_fatal(cli, runs, tmp_path):
    first, second = reader.load(runs[0]), reader.load(runs[1])
    first.cases = [case for case in first.cases if case.benchmark == "matvec"]
    second.cases = [case for case in second.cases if case.benchmark == "lowrank"]
    results.save(first, tmp_path / "a.json")
    results.save(second, tmp_path / "b.json")
    made = cli("report", tmp_path / "a.json", tmp_path / "b.json", "-o", tmp_path / "r.html")
    assert made.exit_code == 0, made.output
    text = Page((tmp_path / "r.html").read_text(encoding="utf-8")).text
    assert "Not compared:" in text and "no case in common" in text


def test_without_jinja2_it_says_how_to_get_it(cli, runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    refused = cli("report", runs[0], "-o", tmp_path / "r.html")
    assert refused.exit_code == 2 and "pip install 'labench[report]'" in refused.output


def test_without_matplotlib_the_page_says_so_and_has_no_figure(cli, runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    made = cli("report", *runs[:3], "-o", tmp_path / "r.html")
    assert made.exit_code == 0, made.output
    parsed = Page((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "pip install 'labench[plot]'" in parsed.text
    assert not [tag for tag, _ in parsed.tags if tag in ("svg", "figure")]
    assert "History" in parsed.text  # the steps table needs no figure


@pytest.mark.skipif(not shutil.which("chromium"), reason="no chromium to take a screenshot")
def test_a_screenshot_of_the_page_shows_the_verdict_on_its_first_screen(pair, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "page.png"
    taken = subprocess.run(
        [
            shutil.which("chromium"),
            *HEADLESS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            pair.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")
    pixels = imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (2000, 1280)
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, len(colours)  # text, tables, figures: not a blank page
    # The first screen (700 px) holds the verdict, in a verdict colour: headline and table.
    # Above the comparison is only the title and the links, so these colours come from it.
    top = pixels[:700].reshape(-1, 1, 3)
    near = np.abs(top - VERDICT_COLOURS[None, :, :]).max(axis=2) < 0.08
    assert near.any(axis=1).sum() > 200, near.sum(axis=0)
