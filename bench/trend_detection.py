"""Trend detection against planted ground truth: the pipeline's verdicts (themes/trends.py) and the previous
week-over-week flag (bench/baselines/week_over_week.py), on the same data in one run.

Data: the emulator's generator (usersnap_pipeline/emulator/data.py) over 10 weeks, each topic as often as a
planted drift says, at 50, 200 and 1,000 data points a week, five seeds each. Planted, as shares of all
feedback (weeks 0-9):

  dark_mode      rise 10×, weeks 2-9 (1 % → 10 %)     reports        rise 3×, weeks 6-9 (4 % → 12 %)
  billing        fade 8×, weeks 2-9 (10 % → 1.25 %)   notifications  fade 3×, weeks 6-9 (7.5 % → 2.5 %)
  login          spike 6× from week 8 on (3 % → 18 %) export         spike 4× in week 9 (3 % → 12 %)
  eight others   steady at 4 % each; noise the rest (counted in the totals, not judged: the pipeline leaves
                 it unthemed), so that a steady topic's share is steady whatever the planted ones do

Each week is judged on the weeks up to it, as theme_trends judges it. Figures: detection rate per kind (a
rise or fade found by the last week, a spike in the week it starts: at the week's end, and three days
in), weeks from the change's start until it is found, and false flags per 100 steady theme-weeks.

Beside them, the best any test could do (``oracle``): the Neyman–Pearson likelihood-ratio test of the planted
curve against the share before the change, both known exactly (no real test knows either), at a 1 % false-alarm
rate (the target's 1 per 100 steady theme-weeks, with no correction for the other themes): its power on the
weeks up to the last (rises, fades) or on the spike week alone, and for rises and fades the union bound over
every week of the change judged at 1 % (what a detector looking each week could at most reach). No detector
finds more often than that, so where it is below 1 the target is out of reach at that volume.

    python bench/trend_detection.py        # bench/results/trend_detection.json
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from baselines import week_over_week  # noqa: E402

from usersnap_pipeline.emulator.corpus import NOISE  # noqa: E402
from usersnap_pipeline.emulator.data import Drift, generate, topics_of  # noqa: E402
from usersnap_pipeline.themes import trends  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "trend_detection.json"
WEEKS = 10
END = datetime(2026, 6, 29, tzinfo=timezone.utc)  # a Monday: weeks start on Mondays, as the pipeline's
VOLUMES = (50, 200, 1000)  # data points a week
SEEDS = (1, 2, 3, 4, 5)
SPIKE_DAYS_SEEN = 3  # the spike week judged this many days in, too
ORACLE_FALSE_ALARMS = 0.01  # the oracle's level: the target's 1 false flag per 100 steady theme-weeks
ORACLE_DRAWS = 20000


def _at(week: float) -> float:
    return week / WEEKS


PLANTED = {  # topic: (kind, the week the change starts, its share over the window)
    "dark_mode": ("rise", 2, Drift(0.01, 0.10, _at(2), 1.0)),
    "reports": ("rise", 6, Drift(0.04, 0.12, _at(6), 1.0)),
    "billing": ("fade", 2, Drift(0.10, 0.0125, _at(2), 1.0)),
    "notifications": ("fade", 6, Drift(0.075, 0.025, _at(6), 1.0)),
    "login": ("spike", 8, Drift(0.03, 0.18, _at(8), _at(8) + 1e-6)),
    "export": ("spike", 9, Drift(0.03, 0.12, _at(9), _at(9) + 1e-6)),
}
STEADY_SHARE = 0.04


class Remainder:
    """Noise's share: what the judged topics leave (weights are shares, so steady topics stay steady)."""

    def __init__(self, drifts: dict, steady: int):
        self.drifts, self.steady = drifts, steady

    def at(self, progress: float) -> float:
        return 1 - self.steady * STEADY_SHARE - sum(drift.at(progress) for drift in self.drifts.values())


def drift_for(topics: list[str]) -> dict:
    planted = {topic: drift for topic, (_, _, drift) in PLANTED.items()}
    steady = [topic for topic in topics if topic not in planted and topic != NOISE]
    return {**planted, **{topic: Drift(STEADY_SHARE, STEADY_SHARE) for topic in steady},
            NOISE: Remainder(planted, len(steady))}
FOUND = {"rise": {"rising", "new", "spike"}, "fade": {"falling"}, "spike": {"spike", "new", "rising"}}


def weekly(dataset, *, cut: timedelta | None = None) -> tuple[list[str], list[list[int]], list[int]]:
    """Data points per topic per week and every week's total (demo items left out, as the pipeline does);
    with ``cut``, the last week only up to that far into it."""
    start = END - timedelta(weeks=WEEKS)
    stop = END if cut is None else END - timedelta(weeks=1) + cut
    topics = sorted({topic for topic in dataset.topics.values()} - {NOISE})
    counts, totals = Counter(), Counter()
    for item in dataset.items:
        created = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
        if item["is_demo"] or created >= stop:
            continue
        week = (created - start).days // 7
        totals[week] += 1
        counts[(dataset.topics[item["feedback_id"]], week)] += 1
    return topics, [[counts[(t, w)] for w in range(WEEKS)] for t in topics], [totals[w] for w in range(WEEKS)]


def flags_of(method: str, counts, totals) -> list[list[str]]:
    if method == "baseline":
        return week_over_week.judge(counts, totals)
    return [[verdict.direction for verdict in row] for row in trends.judge(counts, totals)]


def evaluate(method: str, dataset) -> dict:
    topics, counts, totals = weekly(dataset)
    flags = dict(zip(topics, flags_of(method, counts, totals), strict=True))
    found = {}
    for topic, (kind, begin, _) in PLANTED.items():
        weeks = [w for w in range(begin, WEEKS) if flags[topic][w] in FOUND[kind]]
        found[topic] = {"kind": kind, "found": bool(weeks) if kind != "spike" else begin in weeks,
                        "weeks_until_found": (weeks[0] - begin) if weeks else None}
    steady = [topic for topic in topics if topic not in PLANTED]
    false_flags = sum(flag not in ("steady", "in progress") for topic in steady for flag in flags[topic])
    # The last week three days in: the export spike, judged on its data so far.
    topics, counts, totals = weekly(dataset, cut=timedelta(days=SPIKE_DAYS_SEEN))
    early = dict(zip(topics, flags_of(method, counts, totals), strict=True))
    found["export"]["found_days_in"] = early["export"][-1] in FOUND["spike"]
    return {"planted": found, "false_flags": false_flags, "steady_theme_weeks": len(steady) * WEEKS}


def _weekly_shares(drift: Drift) -> list[float]:
    return [drift.at((week + 0.5) / WEEKS) for week in range(WEEKS)]


def _oracle_power(before: float, shares: list[float], volumes: list[float], rng) -> float:
    """Power of the likelihood-ratio test of ``shares`` against ``before`` in every week (counts binomial over
    each week's ``volumes``), at ORACLE_FALSE_ALARMS, both hypotheses known: the most powerful test there is."""
    import numpy as np

    shares, volumes = np.asarray(shares), np.asarray(volumes, dtype=int)
    weights_hit = np.log(shares / before)
    weights_miss = np.log((1 - shares) / (1 - before))

    def statistic(draws):
        return draws @ (weights_hit - weights_miss) + volumes @ weights_miss

    null = statistic(rng.binomial(volumes, before, size=(ORACLE_DRAWS, len(volumes))))
    threshold = np.quantile(null, 1 - ORACLE_FALSE_ALARMS, method="higher")
    alternative = statistic(rng.binomial(volumes, shares, size=(ORACLE_DRAWS, len(volumes))))
    # Discrete counts: ties at the threshold go to "not flagged", so the level is at most 1 %.
    return float((alternative > threshold).mean())


def oracle() -> list[dict]:
    """The best possible detection rate of each planted change at each volume (see the module's doc)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for volume in VOLUMES:
        row = {"method": "oracle", "volume": volume}
        for topic, (kind, begin, drift) in PLANTED.items():
            shares, before = _weekly_shares(drift), drift.start
            if kind == "spike":
                week_power = _oracle_power(before, [shares[begin]], [volume], rng)
                days_in = _oracle_power(before, [shares[begin]], [volume * SPIKE_DAYS_SEEN / 7], rng)
                row[topic] = {"kind": kind, "power": round(week_power, 3), "power_days_in": round(days_in, 3)}
                continue
            per_week = [_oracle_power(before, shares[:week + 1], [volume] * (week + 1), rng)
                        for week in range(begin, WEEKS)]
            row[topic] = {"kind": kind, "power": round(per_week[-1], 3),
                          "power_any_week_bound": round(min(1.0, sum(per_week)), 3)}
        rows.append(row)
    return rows


def main() -> None:
    started = time.perf_counter()
    runs = []
    for volume in VOLUMES:
        for seed in SEEDS:
            dataset = generate(seed=seed, items=volume * WEEKS, projects=1, days=7 * WEEKS, end=END,
                               drift=drift_for(topics_of("corpus")))
            for method in ("pipeline", "baseline"):
                runs.append({"volume": volume, "seed": seed, "method": method, **evaluate(method, dataset)})
    summary = []
    for method in ("pipeline", "baseline"):
        for volume in (*VOLUMES, "all"):
            chosen = [r for r in runs if r["method"] == method and volume in (r["volume"], "all")]
            row = {"method": method, "volume": volume}
            for topic, (kind, begin, drift) in PLANTED.items():
                hits = [r["planted"][topic] for r in chosen]
                delays = [h["weeks_until_found"] for h in hits if h["found"]]
                row[topic] = {"kind": kind, "found": f"{sum(h['found'] for h in hits)}/{len(hits)}",
                              "mean_weeks_until_found": round(sum(delays) / len(delays), 1) if delays else None}
                if topic == "export":
                    row[topic]["found_days_in"] = f"{sum(h['found_days_in'] for h in hits)}/{len(hits)}"
            flags, weeks = sum(r["false_flags"] for r in chosen), sum(r["steady_theme_weeks"] for r in chosen)
            row["false_flags_per_100_steady_theme_weeks"] = round(100 * flags / weeks, 2)
            summary.append(row)
    best = oracle()
    result = {"machine": platform.platform(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "weeks": WEEKS, "volumes": VOLUMES, "seeds": SEEDS, "summary": summary, "oracle": best, "runs": runs,
              "seconds": round(time.perf_counter() - started, 1),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'method':<9} {'volume':>6} " + " ".join(f"{t[:13]:>13}" for t in PLANTED) + "  false/100  (found, weeks)")
    for row in summary:
        cells = [f"{row[t]['found']} {row[t]['mean_weeks_until_found'] if row[t]['mean_weeks_until_found'] is not None else '-'}"
                 for t in PLANTED]
        print(f"{row['method']:<9} {row['volume']:>6} " + " ".join(f"{c:>13}" for c in cells)
              + f"  {row['false_flags_per_100_steady_theme_weeks']:>9}"
              + f"  export {SPIKE_DAYS_SEEN} days in: {row['export']['found_days_in']}")
    print("best possible test (power at 1 % false alarms; rises and fades: last week / bound over the change's weeks;"
          f" spikes: the week / {SPIKE_DAYS_SEEN} days in)")
    for row in best:
        cells = [f"{row[t]['power']}/{row[t].get('power_any_week_bound', row[t].get('power_days_in'))}"
                 for t in PLANTED]
        print(f"{'oracle':<9} {row['volume']:>6} " + " ".join(f"{c:>13}" for c in cells))
    print(f"{result['seconds']} s, peak RSS {result['peak_rss_mb']} MB; written {RESULTS}")


if __name__ == "__main__":
    main()
