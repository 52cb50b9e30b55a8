"""evaltool report: numbers from the views, escaping, formats, templates, and the HTML as
a real browser shows it."""

import html
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests import browser
from tests.scores import make_runs, put_scores

RunCli = Callable[..., Result]

# Model text that would act if it were not escaped: HTML, Markdown, GitHub mentions and
# references, and a Jinja expression (data is never a template).
ATTACKS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "**bold** [link](https://evil.example) | pipe `tick` @octocat #1 {{ 7*7 }}",
]

needs_chromium = pytest.mark.skipif(
    browser.executable() is None, reason="chromium is not installed (make test installs it)"
)


def two_runs(conn: psycopg.Connection, n: int = 20, broken: int = 8) -> tuple[int, int]:
    """Baseline answers all n cases right; the candidate gets the first `broken` wrong,
    with attack strings among the wrong answers and one error response."""
    cases = []
    for i in range(n):
        wrong = ATTACKS[i % len(ATTACKS)] if i < broken - 1 else None
        candidate = {"error": ATTACKS[0]} if i == broken - 1 else (wrong or f"answer {i}")
        cases.append(
            {
                "id": f"case-{i}",
                "input": {"question": ATTACKS[i % len(ATTACKS)], "n": i},
                "expected": f"answer {i}",
                "outputs": [f"answer {i}", candidate],
                "latency_ms": 10.0 + i,
            }
        )
    base, cand = make_runs(conn, cases)
    return base, cand


def give_own_model(conn: psycopg.Connection, run_id: int, name: str) -> None:
    """Make run_id the run of a new model of its own, for leaderboards of two models."""
    conn.execute(
        """WITH m AS (INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
                      SELECT provider_id, %s, 'x:y', 'python' FROM evaltool.model LIMIT 1
                      RETURNING id)
           UPDATE evaltool.run SET model_id = (SELECT id FROM m) WHERE id = %s""",
        (name, run_id),
    )
    conn.commit()


def score(run_cli: RunCli, *run_ids: int) -> None:
    for run_id in run_ids:
        result = run_cli(
            "score", str(run_id), "--metric", "exact_match", "--metric", "edit_similarity"
        )
        assert result.exit_code == 0, result.output


def test_histogram_counts_every_value_once(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT bucket, low, high, n FROM evaltool.histogram(%s::float8[], 4)",
        ([0.0, 1.0, 1.0, 2.5, 3.99, 4.0, None],),
    ).fetchall()
    assert rows == [(1, 0, 1, 1), (2, 1, 2, 2), (3, 2, 3, 1), (4, 3, 4, 2)]
    same = "SELECT bucket, low, high, n FROM evaltool.histogram(array[5, 5]::float8[], 10)"
    assert conn.execute(same).fetchall() == [(1, 5, 5, 2)]
    empty = "SELECT count(*) FROM evaltool.histogram(array[]::float8[], 10)"
    assert conn.execute(empty).fetchone() == (0,)
    widened = conn.execute(
        "SELECT low, high, n FROM evaltool.histogram(array[0.3, 0.35]::float8[], 2, 0, 1)"
    ).fetchall()
    assert widened == [(0, 0.5, 2), (0.5, 1, 0)]


def test_run_report_shows_the_views_numbers(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    base, cand = two_runs(conn)
    score(run_cli, base, cand)
    page = tmp_path / "run.html"
    result = run_cli("report", "run", str(cand), "--metric", "exact_match", "-o", str(page))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {page}"
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))

    view = conn.execute(
        """SELECT n, pass_rate, pass_rate_low, pass_rate_high FROM evaltool.run_metric_summary
           WHERE run_id = %s AND metric = 'exact_match'""",
        (cand,),
    ).fetchone()
    assert view[0] == 20 and view[1] == pytest.approx(12 / 20)
    assert f"{100 * view[1]:.1f}%" in text  # 60.0%
    assert f"{100 * view[2]:.1f}% to {100 * view[3]:.1f}%" in text  # the Wilson interval
    # Latency histogram: 19 ok responses in 20 bins; the error grouped with its test case.
    bars = re.findall(r"to [\d.]+ ms: (\d+)</title>", page.read_text())
    assert len(bars) == 20 and sum(map(int, bars)) == 19
    assert "case-7" in text and ATTACKS[0] in text

    md = run_cli("report", "run", str(cand)).stdout  # no -o: Markdown on stdout
    assert md.startswith(f"### evaltool run {cand}:")
    assert "| exact\\_match | 20 | 60.0% (" in md
    assert "<details><summary>1 errors, 1 distinct</summary>" in md


def test_compare_report_lists_the_worst_and_counts_the_rest(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    base, cand = two_runs(conn)
    score(run_cli, base, cand)
    page = tmp_path / "compare.html"
    result = run_cli("report", "compare", str(base), str(cand), "--worst", "3", "-o", str(page))
    assert result.exit_code == 0, result.output
    source = page.read_text()
    verdict_cells = r"<tr><td>([a-z_]+)</td>.*?<td class=\"verdict \w+\">([a-z ]+)<"
    verdicts = dict(re.findall(verdict_cells, source))
    assert verdicts == {
        "exact_match": "worse",
        "edit_similarity": "worse",
        "availability": "inconclusive",
    }
    assert source.count('<article class="case">') == 6  # 3 worst per metric
    assert source.count("… and 5 more") == 2  # of 8 regressed cases each
    assert source.count('<circle class="dot"') == 3  # the delta chart: one point per row
    assert "Gate fails: edit_similarity, exact_match" in source

    md_file = tmp_path / "comment.md"
    gate = run_cli(
        "report", "compare", str(base), str(cand), "-o", str(md_file), "--fail-on-regression"
    )
    assert gate.exit_code == 1 and "gate failed on" in gate.stderr
    md = md_file.read_text()  # written before the gate failed
    lines = md.splitlines()
    assert lines[4].startswith("| metric |")  # the verdict table comes first
    assert "| exact\\_match | 20 | 0 | 1.000 | 0.600 |" in md and "🔴 worse" in md
    assert md.index("<details>") > md.index("| metric |")
    assert md.count("<details>") == 3  # cost and latency, then each metric's cases


def test_every_model_text_is_inert(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    base, cand = two_runs(conn)
    score(run_cli, base, cand)
    files = {}
    for kind, args in (("compare", [str(base), str(cand)]), ("run", [str(cand)])):
        for ext in ("html", "md"):
            files[kind, ext] = tmp_path / f"{kind}.{ext}"
            result = run_cli("report", kind, *args, "-o", str(files[kind, ext]))
            assert result.exit_code == 0, result.output

    for kind in ("compare", "run"):
        page = files[kind, "html"].read_text()
        assert "<script" not in page and "<img" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "49" not in re.findall(r"\{\{ ?(\S+)", page)  # no template ran
        md = files[kind, "md"].read_text()
        assert "<script" not in md and "<img" not in md
        assert "&lt;script&gt;" in md
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in files["compare", "html"].read_text()
    md = files["compare", "md"].read_text()
    assert '"&gt;&lt;img src=x onerror=alert(1)&gt;' in md
    # Markdown is escaped: no bold, link, table cell break, code span or mention survives.
    assert "\\*\\*bold\\*\\* \\[link\\](https\\://evil.example) \\| pipe \\`tick\\`" in md
    assert "\\@octocat \\#1" in md
    assert "**bold**" not in md and "](https://evil" not in md
    for line in md.splitlines():
        if line.startswith("| <code>case-"):  # every row of the cases table has its 5 cells
            assert len(re.findall(r"(?<!\\)\|", line)) == 6, line


@needs_chromium
def test_reports_in_a_real_browser(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    base, cand = two_runs(conn)
    score(run_cli, base, cand)
    conn.execute("UPDATE evaltool.response SET cost_usd = 0.25, input_tokens = 10")
    give_own_model(conn, base, "best-model")
    assert run_cli("refresh").exit_code == 0
    pages = {
        "compare": (["compare", str(base), str(cand)], ["worse", "8", "-0.400"]),
        "run": (["run", str(cand)], ["60.0%", "20", "$5.00"]),
        "leaderboard": (["leaderboard"], ["best-model", "100.0%", "60.0%"]),
        "cost": (["cost"], ["$10.00", "40"]),
    }
    with browser.Chromium() as chromium:
        for name, (args, numbers) in pages.items():
            path = tmp_path / f"{name}.html"
            assert run_cli("report", *args, "-o", str(path)).exit_code == 0
            for dark in (False, True):
                page = chromium.open(path, dark=dark)
                assert page.errors == [], (name, dark, page.errors)
                for number in numbers:
                    assert number in page.text, (name, number)
                assert page.counts["scripts"] == 0 and page.counts["handlers"] == 0
                assert page.counts["svgs"] >= 1, name
                assert page.png.startswith(b"\x89PNG") and len(page.png) > 20_000, name
                (tmp_path / f"{name}-{'dark' if dark else 'light'}.png").write_bytes(page.png)
        # What the escaped attacks look like to a reader: their literal text.
        page = chromium.open(tmp_path / "compare.html")
        for attack in ATTACKS[:2]:
            assert attack in page.text
        assert page.counts["images"] == 0


@needs_chromium
def test_the_browser_check_sees_console_errors_and_failed_loads(tmp_path: Path) -> None:
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<!doctype html><p>ok</p><img src='missing.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>"
    )
    with browser.Chromium() as chromium:
        page = chromium.open(page_file)
    assert "boom" in page.errors
    assert any("ERR_FILE_NOT_FOUND" in e for e in page.errors)
    assert any("Uncaught" in e for e in page.errors)


def test_leaderboard_ranks_latest_runs_without_a_refresh(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    base, cand = two_runs(conn)
    score(run_cli, base, cand)  # run_metric_stats is recomputed as the scores commit
    give_own_model(conn, base, "best-model")
    md = run_cli("report", "leaderboard", "--metric", "exact_match").stdout
    assert "#### d0:1 · exact\\_match" in md
    assert f"| 1 | best-model | 100.0% (83.9% to 100.0%) | 20 | run {base} |" in md
    assert f"| 2 | m0 | 60.0% (38.7% to 78.1%) | 20 | run {cand} |" in md
    assert "edit\\_similarity" not in md
    assert run_cli("report", "leaderboard", "--dataset", "nope").stdout.count("No completed") == 1


def test_cost_report_sums_the_days_asked_for(run_cli: RunCli, conn: psycopg.Connection) -> None:
    base, _ = two_runs(conn)
    conn.execute(
        """UPDATE evaltool.response SET cost_usd = 0.5, input_tokens = 100, output_tokens = 5,
                  started_at = CASE WHEN run_id = %s THEN '2026-03-01 12:00'::timestamptz
                                    ELSE '2026-03-03 12:00'::timestamptz END""",
        (base,),
    )
    conn.commit()
    md = run_cli("report", "cost", "--since", "2026-03-01", "--until", "2026-03-03").stdout
    assert "**$20.00** for 40 calls (1 errors, 4,200 tokens)" in md
    assert "| 2026-03-01 | 20 | 0 | 2,000 | 100 | $10.00 |" in md
    only_first = run_cli("report", "cost", "--since", "2026-03-01", "--until", "2026-03-02").stdout
    assert "**$10.00** for 20 calls" in only_first
    none = run_cli("report", "cost", "--since", "2025-01-01", "--until", "2025-01-31").stdout
    assert "No model calls on these days." in none
    backwards = run_cli("report", "cost", "--since", "2026-03-03", "--until", "2026-03-01")
    assert backwards.exit_code == 2
    assert backwards.stderr.strip() == "Error: --until 2026-03-01 is before --since 2026-03-03"
    # the old spellings still work, with a note
    old = run_cli("report", "cost", "--from", "2026-03-01", "--to", "2026-03-02")
    assert old.exit_code == 0 and old.stdout == only_first
    assert "note: --from is deprecated, use --since" in old.stderr


def test_formats_templates_and_mistakes(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    base, cand = two_runs(conn)
    score(run_cli, base, cand)
    pdf = run_cli("report", "run", str(cand), "-o", str(tmp_path / "r.pdf"))
    assert pdf.exit_code == 2
    assert "cannot tell the format from its extension (use .html or .md)" in pdf.stderr
    assert not (tmp_path / "r.pdf").exists()
    missing = run_cli("report", "run", "999")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == "Error: no run 999: see evaltool runs list"

    # A template of the user's replaces the built-in one; the others stay.
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "run.md.j2").write_text("run {{ doc.run.id }}: {{ doc.primary.metric }}\n")
    custom = run_cli("report", "run", str(cand), "--template-dir", str(mine))
    assert custom.stdout == f"run {cand}: exact\\_match\n"  # escaped: Markdown
    builtin = run_cli("report", "compare", str(base), str(cand), "--template-dir", str(mine))
    assert builtin.stdout.startswith("### evaltool compare")
    (mine / "run.md.j2").write_text("{{ doc.nothing_here }}\n")
    broken = run_cli("report", "run", str(cand), "--template-dir", str(mine))
    assert broken.exit_code == 2 and "report template error" in broken.stderr
    assert "nothing_here" in broken.stderr

    blocked = tmp_path / "file"
    blocked.write_text("")
    unwritable = run_cli("report", "run", str(cand), "-o", str(blocked / "r.html"))
    assert unwritable.exit_code == 2
    assert unwritable.stderr.strip() == f"Error: cannot write {blocked / 'r.html'}: File exists"
    nested = tmp_path / "out" / "deep" / "r.html"  # folders are made
    assert run_cli("report", "run", str(cand), "-o", str(nested)).exit_code == 0
    assert nested.read_text().startswith("<!doctype html>")


def test_a_long_run_shows_the_worst_and_counts_the_rest(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    n = 3000
    base, cand = make_runs(
        conn, [{"id": f"c{i}", "expected": "a", "outputs": ["a", "a"]} for i in range(n)]
    )
    put_scores(conn, base, "exact_match", [1.0] * n, [True] * n)
    worse = [False] * 2000 + [True] * 1000
    put_scores(conn, cand, "exact_match", [float(p) for p in worse], worse)
    conn.execute(
        """UPDATE evaltool.response SET status = 'error', output = NULL, output_text = NULL,
                  error = 'HTTP 500: upstream ' || (id %% 40)
           WHERE run_id = %s AND prompt_id %% 3 = 0""",
        (cand,),
    )
    conn.commit()
    md = run_cli("report", "compare", str(base), str(cand)).stdout
    assert "… and 1,990 more" in md
    assert len(re.findall(r"^\| <code>c\d+</code> \|", md, re.MULTILINE)) == 10
    page = tmp_path / "run.html"
    assert run_cli("report", "run", str(cand), "--worst", "5", "-o", str(page)).exit_code == 0
    source = page.read_text()
    assert source.count("HTTP 500: upstream") == 5
    assert "… and 35 more distinct errors" in source
    assert len(source) < 200_000


def test_ids_and_run_names_in_markdown_mention_no_one(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    # Ids and names are chosen by whoever loads the data: "@octocat" or "#1" in a
    # pull-request comment would notify a GitHub user or link an issue.
    cases = [
        {"id": "@octocat", "expected": "a", "outputs": ["a", "b"]},
        {"id": "#1", "expected": "a", "outputs": ["a", {"error": "HTTP 500"}]},
        {"id": "case-3", "expected": "a", "outputs": ["a", "b"]},
    ]
    base, cand = make_runs(conn, cases)
    conn.execute("UPDATE evaltool.run SET name = '@team nightly' WHERE id = %s", (cand,))
    conn.commit()
    put_scores(conn, base, "exact_match", [1.0] * 3, [True] * 3)
    put_scores(conn, cand, "exact_match", [0.0] * 3, [False] * 3)

    compare_md = run_cli("report", "compare", str(base), str(cand)).stdout
    assert "| <code>\\@octocat</code> |" in compare_md  # a regressed test case
    run_md = run_cli("report", "run", str(cand)).stdout
    assert run_md.startswith(f"### evaltool run {cand} · <code>\\@team nightly</code>: ")
    assert "| <code>\\#1</code> |" in run_md  # the test cases of an error
    for md in (compare_md, run_md):
        outside_code = re.sub(r"<code>.*?</code>", "", md)
        assert "@" not in outside_code and "#1" not in outside_code
