"""Benchmark: how often the verdicts of evaltool.compare_runs are wrong, by simulation.

For every cell (a kind of metric, a number of test cases, a base rate, how the cases vary)
it simulates --sims comparisons with no real change (5,000: a false-alarm rate of 5% is
then measured to +-0.3 points, and 6% is three standard errors away) and --drop-sims with
drops of 2 and 5 points (2,000 each), with a fixed seed, and prints:

  false alarms   share of no-change comparisons called better or worse (two-sided, alpha)
  coverage       share of intervals that hold the true difference (the lowest of the three
                 scenarios)
  power 2 / 5    share of 2- and 5-point drops called worse
  contra         comparisons whose adjusted p and interval disagree about 0 (must be 0)
  against        verdicts against the sign of the estimated difference (must be 0)
  disc           mean discordant pairs (pass/fail) or non-zero differences

A point is a percentage point of pass rate, or 1% of a score's range (0.1 on a 0-10 judge
scale). The numbers come from the SQL functions compare_runs is built of (paired_p,
paired_interval, multiplicity, verdict), called on each simulated comparison's
sufficient statistics; for a sample of every cell the comparison is also loaded as two
real runs and compare_runs itself must give the same p-value, interval and verdict.

Repeats (issue 17): the cells K=1, 3, 5 ask every test case K times per run, each call
drawing anew from the case's own pass probability (or quality): compare_runs then compares
each case's mean over its samples.

Targets (issues 16 and 17): false alarms <= alpha + 1 point in every cell, and not below
alpha - 2 points where there are 10 or more discordant pairs on average; coverage >= 93%;
0 contradictions; 0 verdicts against the sign; the gate's false fails with seven unchanged
metrics <= alpha + 1 point.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchdb
from evaltool import db

ALPHA = 0.05
SMALL = 25  # below this many non-zero differences the exact sign-flip test joins in


@dataclass(frozen=True)
class Cell:
    name: str
    kind: str  # pass_fail | judge | tenths
    n: int
    base: float = 0.0  # pass/fail: the baseline's pass rate
    mode: str = "noisy"  # noisy | flips | clustered | repeats
    clusters: int = 0  # clustered: number of clusters (n / clusters cases each)
    repeats: int = 1  # repeats: samples per test case and run

    @property
    def method(self) -> str:
        """What compare_runs uses without clusters: with repeats, each case's mean."""
        return "tango" if self.kind == "pass_fail" and self.repeats == 1 else "t"


def cells() -> list[Cell]:
    out = []
    for mode in ("noisy", "flips"):
        for base in (0.5, 0.9, 0.99):
            for n in (20, 50, 200, 1000):
                out.append(Cell(f"pass/fail {mode} p={base} n={n}", "pass_fail", n, base, mode))
    for kind in ("judge", "tenths"):
        for n in (20, 50, 200, 1000):
            out.append(Cell(f"{kind} 0-10 n={n}", kind, n))
    for kind, n, g in (
        ("judge", 200, 20),
        ("judge", 1000, 50),
        ("pass_fail", 200, 20),
        ("pass_fail", 1000, 100),
    ):
        out.append(Cell(f"{kind} clustered {g}x{n // g}", kind, n, 0.8, "clustered", g))
    # repeats (issue 17): K samples per case and run at temperature-like noise
    for k in (1, 3, 5):
        for base, n in ((0.5, 50), (0.8, 200)):
            out.append(Cell(f"pass/fail K={k} p={base} n={n}", "pass_fail", n, base, "repeats",
                            repeats=k))  # fmt: skip
        out.append(Cell(f"judge 0-10 K={k} n=50", "judge", 50, mode="repeats", repeats=k))
    return out


# -- simulation: each returns (baseline, candidate) arrays of shape (sims, n) ---------------


def simulate(cell: Cell, drop: float, sims: int, rng: np.random.Generator) -> tuple:
    n = cell.n
    if cell.mode == "repeats":
        # Each case has its own pass probability (or quality), and every call samples it
        # anew, as a model at temperature > 0 does: arrays of shape (sims, n, K).
        shape = (sims, n, cell.repeats)
        if cell.kind == "pass_fail":
            p = rng.beta(2.0 * cell.base, 2.0 * (1 - cell.base), (sims, n, 1))
            return rng.random(shape) < p, rng.random(shape) < p * (1 - drop / cell.base), None
        mu = np.broadcast_to(rng.uniform(1, 9, (sims, n, 1)), shape)
        return judge(mu, rng), judge(mu - 10 * drop * 1.25, rng), None
    if cell.mode == "clustered":
        g = np.repeat(np.arange(cell.clusters), n // cell.clusters)
        # each cluster (a document) moves both runs' cases, and each run on its own: the
        # runs' differences are alike within a cluster, and no run is better on average
        shared = rng.normal(0, 1.0, (sims, cell.clusters))[:, g]
        own_b = rng.normal(0, 0.6, (sims, cell.clusters))[:, g]
        own_c = rng.normal(0, 0.6, (sims, cell.clusters))[:, g]
        if cell.kind == "pass_fail":
            eta = np.log(cell.base / (1 - cell.base)) + shared
            pb = 1 / (1 + np.exp(-(eta + own_b)))
            pc = 1 / (1 + np.exp(-(eta + own_c))) * (1 - drop / cell.base)
            return rng.random((sims, n)) < pb, rng.random((sims, n)) < pc, g
        mu = 6 + 1.5 * shared
        b = judge(mu + own_b, rng)
        c = judge(mu + own_c - 10 * drop * 1.25, rng)
        return b, c, g
    if cell.kind == "pass_fail":
        if cell.mode == "noisy":  # every case its own pass probability, drawn per run
            k = 2.0
            p = rng.beta(k * cell.base, k * (1 - cell.base), (sims, n))
            return (
                rng.random((sims, n)) < p,
                rng.random((sims, n)) < p * (1 - drop / cell.base),
                None,
            )
        truth = rng.random((sims, n)) < cell.base  # near-deterministic: 1% of answers flip
        b = truth ^ (rng.random((sims, n)) < 0.01)
        c = truth ^ (rng.random((sims, n)) < 0.01)
        mean_c = cell.base * 0.99 + (1 - cell.base) * 0.01
        return b, c & ~(rng.random((sims, n)) < drop / mean_c), None
    mu = rng.uniform(1, 9, (sims, n))  # a judge's 0-10 score around each case's quality
    b, c = judge(mu, rng), judge(mu - 10 * drop * 1.25, rng)
    return b, c, None


def judge(mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.round(mu + rng.normal(0, 1.5, mu.shape)), 0, 10)


def true_delta(cell: Cell, drop: float) -> float:
    """The expected difference, measured on a large sample where clipping makes it inexact."""
    if drop == 0 or (cell.kind == "pass_fail" and cell.mode != "clustered"):
        return -drop
    rng = np.random.default_rng(99)
    if cell.mode == "repeats":  # the same judge as without repeats
        return true_delta(Cell(cell.name, cell.kind, cell.n), drop)
    if cell.mode == "clustered":
        big = Cell(cell.name, cell.kind, 200_000, cell.base, cell.mode, 20_000)
    else:
        big = Cell(cell.name, cell.kind, 400_000)
    b, c, _ = simulate(big, drop, 1, rng)
    scale = 0.1 if cell.kind == "tenths" else 1
    return float((c.astype(float) - b.astype(float)).mean()) * scale


# -- the sufficient statistics compare_runs computes ----------------------------------------


def statistics(cell: Cell, b: np.ndarray, c: np.ndarray, clusters, use_clusters: bool) -> dict:
    scale = 0.1 if cell.kind == "tenths" else 1.0
    if b.ndim == 3:  # repeats: each case's mean over its samples
        b, c = b.mean(2), c.mean(2)
    d = np.round((c.astype(float) - b.astype(float)) * scale * 1e9) / 1e9
    sims, n = d.shape
    won, lost = (d > 0).sum(1), (d < 0).sum(1)
    est = d.mean(1)
    if use_clusters and clusters is not None:
        g = clusters.max() + 1
        totals = np.stack([d[:, clusters == k].sum(1) for k in range(g)], axis=1)
        sizes = np.bincount(clusters)
        se = np.sqrt(g / (g - 1) * ((totals - sizes * est[:, None]) ** 2).sum(1)) / n
        method, df, small_src = "cluster_t", g - 1.0, totals
    else:
        se = d.std(1, ddof=1) / np.sqrt(n)
        method = cell.method
        df, small_src = n - 1.0, d
    small = []
    for row in small_src:
        nz = row[np.round(row * 1e9) != 0]
        small.append(json.dumps(nz.tolist()) if method != "tango" and len(nz) < SMALL else None)
    return {
        "method": [method] * sims,
        "n": [n] * sims,
        "won": won.tolist(),
        "lost": lost.tolist(),
        "est": est.tolist(),
        "se": se.tolist(),
        "df": [df] * sims,
        "small": small,
        "bmean": (b.astype(float) * scale).mean(1).tolist(),
        "cmean": (c.astype(float) * scale).mean(1).tolist(),
    }


# The replica of compare_runs' last steps for one row (one metric): the row is its own
# family when it is the only one with discordant pairs (availability is identical here).
REPLICA = """
WITH u AS (
    SELECT * FROM unnest(%(method)s::text[], %(n)s::bigint[], %(won)s::bigint[],
                         %(lost)s::bigint[], %(est)s::float8[], %(se)s::float8[],
                         %(df)s::float8[], %(small)s::jsonb[]) WITH ORDINALITY
                  AS u(method, n, won, lost, est, se, df, small, i)
), x AS (
    SELECT u.*,
           evaltool.paired_p(u.method, u.won, u.lost, u.est, u.se, u.df,
                             CASE WHEN u.small IS NOT NULL
                                  THEN ARRAY(SELECT jsonb_array_elements_text(u.small)::float8)
                             END) AS p
    FROM u
)
SELECT x.i, x.p,
       CASE WHEN x.p < %(alpha)s OR iv.low IS NULL THEN iv.low ELSE least(iv.low, 0) END,
       CASE WHEN x.p < %(alpha)s OR iv.high IS NULL THEN iv.high ELSE greatest(iv.high, 0) END
FROM x LEFT JOIN LATERAL evaltool.paired_interval(x.method, x.n, x.won, x.lost, x.est, x.se,
                                                  x.df, %(alpha)s) iv ON true
ORDER BY x.i
"""

VERDICTS = """
SELECT evaltool.verdict(l, h, 0) FROM unnest(%(low)s::float8[], %(high)s::float8[]) AS u(l, h)
"""


def judged(conn: psycopg.Connection, st: dict) -> dict:
    """p, interval and verdict of each comparison, from the SQL functions. Pass/fail rows
    without clusters depend on (n, won, lost) alone: each distinct triple is asked once."""
    keys = list(zip(st["method"], st["n"], st["won"], st["lost"], st["small"], strict=True))
    if st["method"][0] == "tango":
        unique = sorted(set(keys))
        index = {k: i for i, k in enumerate(unique)}
        pick = [index[k] for k in keys]
        ask = {
            "method": [k[0] for k in unique],
            "n": [k[1] for k in unique],
            "won": [k[2] for k in unique],
            "lost": [k[3] for k in unique],
            "est": [(k[2] - k[3]) / k[1] for k in unique],
            "se": [None] * len(unique),
            "df": [None] * len(unique),
            "small": [None] * len(unique),
        }
    else:
        pick = list(range(len(keys)))
        ask = {k: st[k] for k in ("method", "n", "won", "lost", "est", "se", "df", "small")}
    rows = conn.execute(REPLICA, {**ask, "alpha": ALPHA}).fetchall()
    p = np.array([rows[i][1] if rows[i][1] is not None else np.nan for i in pick], dtype=float)
    low = [rows[i][2] for i in pick]
    high = [rows[i][3] for i in pick]
    verdicts = [r[0] for r in conn.execute(VERDICTS, {"low": low, "high": high})]
    return {
        "p": p,
        "low": np.array([np.nan if v is None else v for v in low], dtype=float),
        "high": np.array([np.nan if v is None else v for v in high], dtype=float),
        "verdict": np.array(verdicts),
    }


def summary(st: dict, out: dict, truth: float) -> dict:
    est = np.array(st["est"])
    p, low, high, verdict = out["p"], out["low"], out["high"], out["verdict"]
    rejected = np.isin(verdict, ["better", "worse"])
    excludes = ~((low <= 0) & (high >= 0))
    significant = p < ALPHA
    return {
        "alarm": float(rejected.mean()),
        "worse": float((verdict == "worse").mean()),
        "cover": float(((low <= truth + 1e-12) & (truth - 1e-12 <= high)).mean()),
        "contra": int((significant != excludes).sum() + (rejected != significant).sum()),
        "against": int(
            ((verdict == "worse") & (est > 0)).sum() + ((verdict == "better") & (est < 0)).sum()
        ),
        "disc": float(np.mean(np.array(st["won"]) + np.array(st["lost"]))),
    }


# -- the sample that goes through compare_runs itself ---------------------------------------


def through_compare_runs(
    conn: psycopg.Connection,
    cell: Cell,
    b: np.ndarray,
    c: np.ndarray,
    clusters,
    out: dict,
    picks: list[int],
    use_clusters: bool,
) -> int:
    """Load comparisons `picks` as real runs and compare; returns how many disagree."""
    n = cell.n
    dataset = conn.execute(
        "INSERT INTO evaltool.dataset (project_id, name) VALUES (1, %s) RETURNING id",
        (f"bench {cell.name} {time.monotonic_ns()}",),
    ).fetchone()[0]
    docs = (clusters if clusters is not None else np.arange(n)).tolist()
    prompts = [
        r[0]
        for r in conn.execute(
            """INSERT INTO evaltool.prompt (dataset_id, input, metadata)
           SELECT %s, to_jsonb(i), jsonb_build_object('doc', d)
           FROM unnest(%s::int[], %s::int[]) AS u(i, d) ORDER BY i RETURNING id""",
            (dataset, list(range(n)), docs),
        )
    ]
    scale = 0.1 if cell.kind == "tenths" else 1.0
    k = cell.repeats
    bad = 0
    for s in picks:
        runs = []
        for values in (b[s], c[s]):
            run = conn.execute(
                """INSERT INTO evaltool.run (model_id, dataset_id, status, repeats)
                   VALUES (1, %s, 'completed', %s) RETURNING id""",
                (dataset, k),
            ).fetchone()[0]
            conn.execute(
                """WITH r AS (INSERT INTO evaltool.response (run_id, prompt_id, sample, status,
                                                         output_text)
                              SELECT %(run)s, p, k, 'ok', 'x'
                              FROM unnest(%(prompts)s::bigint[], %(samples)s::int[]) u(p, k)
                              RETURNING run_id, id, prompt_id, sample)
                   INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
                   SELECT r.run_id, r.id, 'm', u.v, CASE WHEN %(pf)s THEN u.v = 1 END, 'bench'
                   FROM r JOIN unnest(%(prompts)s::bigint[], %(samples)s::int[],
                                      %(values)s::float8[]) u(p, k, v)
                     ON u.p = r.prompt_id AND u.k = r.sample""",
                {
                    "run": run,
                    "prompts": np.repeat(prompts, k).tolist(),
                    "samples": np.tile(np.arange(1, k + 1), n).tolist(),
                    "pf": cell.kind == "pass_fail",
                    "values": (values.reshape(n * k).astype(float) * scale).tolist(),
                },
            )
            runs.append(run)
        row = conn.execute(
            """SELECT p_value, ci_low, ci_high, verdict FROM evaltool.compare_runs(%s, %s,
                   cluster_by => %s) WHERE metric = 'm'""",
            (*runs, "metadata.doc" if use_clusters else None),
        ).fetchone()
        want = (out["p"][s], out["low"][s], out["high"][s], out["verdict"][s])
        same = row[3] == want[3] and all(
            (x is None and np.isnan(y)) or (x is not None and abs(x - y) < 1e-9)
            for x, y in zip(row[:3], want[:3], strict=True)
        )
        bad += not same
    conn.rollback()
    return bad


def gate_false_fails(
    conn: psycopg.Connection, cell: Cell, sims: int, rng: np.random.Generator
) -> float:
    """Seven unchanged metrics of one comparison, Holm-adjusted as compare_runs does (rows
    without a differing pair take no part): how often the gate fails, i.e. some metric is
    called worse."""
    keys = ("method", "n", "won", "lost", "est", "se", "df", "small")
    metrics = []
    for _ in range(7):
        b, c, cl = simulate(cell, 0.0, sims, rng)
        st = statistics(cell, b, c, cl, False)
        rows = conn.execute(REPLICA, {**{k: st[k] for k in keys}, "alpha": ALPHA}).fetchall()
        metrics.append(
            [(r[1], st["est"][i], st["won"][i] + st["lost"][i]) for i, r in enumerate(rows)]
        )
    fails = 0
    for s in range(sims):
        ps = [m[s][0] if m[s][2] > 0 else None for m in metrics]
        worse = conn.execute(
            """SELECT count(*) FROM evaltool.multiplicity(%s::float8[], %s, 'holm') m
               WHERE m.p_adjusted < %s AND (%s::float8[])[m.ord] < 0""",
            (ps, ALPHA, ALPHA, [m[s][1] for m in metrics]),
        ).fetchone()[0]
        fails += worse > 0
    return fails / sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=5000, help="comparisons without change")
    parser.add_argument("--drop-sims", type=int, default=2000, help="comparisons per drop")
    parser.add_argument("--sample", type=int, default=3, help="per scenario through compare_runs")
    parser.add_argument("--only", help="run only the cells whose name contains this")
    args = parser.parse_args()

    admin = db.database_url()
    url = benchdb.fresh_database(admin)
    rng = np.random.default_rng(16)
    started = time.monotonic()
    failures: list[str] = []
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO evaltool.provider (name) VALUES ('bench')")
        conn.execute("""INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
                        SELECT id, 'bench', 'bench:model', 'python' FROM evaltool.provider""")
        conn.commit()
        head = (
            f"{'cell':<34} {'method':<9} {'alarms':>6} {'cover':>6} {'pow 2':>6} "
            f"{'pow 5':>6} {'contra':>6} {'against':>7} {'disc':>7} {'check':>5}"
        )
        print(head)
        print("-" * len(head))
        for cell in cells():
            if args.only and args.only not in cell.name:
                continue
            variants = [False] if cell.mode != "clustered" else [False, True]
            scenarios = {}
            for drop in (0.0, 0.02, 0.05):
                scenarios[drop] = simulate(cell, drop, args.drop_sims if drop else args.sims, rng)
            for use_clusters in variants:
                results, checked = {}, 0
                for drop, (b, c, cl) in scenarios.items():
                    st = statistics(cell, b, c, cl, use_clusters)
                    out = judged(conn, st)
                    results[drop] = summary(st, out, true_delta(cell, drop))
                    picks = list(range(min(args.sample, args.sims)))
                    checked += through_compare_runs(conn, cell, b, c, cl, out, picks, use_clusters)
                report(cell, use_clusters, results, checked, failures)
        for cell in (
            Cell("gate: 7 pass/fail p=0.9 n=200", "pass_fail", 200, 0.9),
            Cell("gate: 7 judge 0-10 n=50", "judge", 50),
        ):
            rate = gate_false_fails(conn, cell, args.sims, rng)
            ok = rate <= ALPHA + 0.01
            print(
                f"{cell.name:<34} gate false fails {rate:.3f} (target <= {ALPHA + 0.01:.2f})"
                f" {'ok' if ok else 'MISSED'}"
            )
            if not ok:
                failures.append(cell.name)
    benchdb.drop_database(admin)
    print(
        f"\n{time.monotonic() - started:.0f} s; targets missed in: {', '.join(failures) or 'none'}"
    )


def report(cell: Cell, use_clusters: bool, results: dict, checked: int, failures: list) -> None:
    null = results[0.0]
    cover = min(r["cover"] for r in results.values())
    contra = sum(r["contra"] for r in results.values())
    against = sum(r["against"] for r in results.values())
    method = "cluster_t" if use_clusters else cell.method
    naive = cell.mode == "clustered" and not use_clusters
    missed = []
    if null["alarm"] > ALPHA + 0.01:
        missed.append("alarms high")
    if null["alarm"] < ALPHA - 0.02 and null["disc"] >= 10 and not naive:
        missed.append("alarms low")
    if cover < 0.93:
        missed.append("coverage")
    if contra or against or checked:
        missed.append("consistency")
    label = cell.name + (" (no --cluster)" if naive else "")
    print(
        f"{label:<34} {method:<9} {null['alarm']:6.3f} {cover:6.3f} "
        f"{results[0.02]['worse']:6.3f} {results[0.05]['worse']:6.3f} {contra:6d} "
        f"{against:7d} {null['disc']:7.1f} {checked if checked else 'ok':>5}"
        + (f"  MISSED: {', '.join(missed)}" if missed and not naive else "")
    )
    if missed and not naive:
        failures.append(label)


if __name__ == "__main__":
    main()
