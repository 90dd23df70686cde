"""Whether a product figure meets its target, judged on the spread of the run's rounds.

Every configuration is measured once per round, and the rounds are interleaved, so the
product's round i and the ceiling's round i ran minutes apart at most, on the same
state of the machine. A ratio is taken round by round; its spread (min, median, max
over the rounds) says how much the machine moved, and the verdict reads it:

- **MISS**: an error (a request that failed other than h2load's own cancellation at the
  end of a timed run), a latency that was not measured, or the median ratio beyond
  the target;
- **pass**: every round meets the target;
- **pass, within the spread**: the median meets it, some round does not.

A MISS makes `make bench` exit 1.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

PASS, NOISY_PASS, MISS = "pass", "pass, within the spread", "MISS"


@dataclass(frozen=True)
class Spread:
    """Min, median and max of one figure over the rounds."""

    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        values = list(values)
        if not values:
            raise ValueError("a spread of no values")
        return cls(min(values), statistics.median(values), max(values))

    def overlaps(self, other: Spread) -> bool:
        """Whether the two ranges meet: if they do, the difference is not larger than the spread."""
        return self.min <= other.max and other.min <= self.max

    def as_list(self, digits: int = 3) -> list[float]:
        return [round(self.min, digits), round(self.median, digits), round(self.max, digits)]

    def text(self, fmt: str = ".2f") -> str:
        return f"{self.median:{fmt}} ({self.min:{fmt}}-{self.max:{fmt}})"


def per_round(product: list[dict], ceiling: list[dict], key: str) -> list[float | None]:
    """product[i][key] / ceiling[i][key] for each round; None where either was not measured."""
    if len(product) != len(ceiling):
        raise ValueError(f"{len(product)} product rounds against {len(ceiling)} ceiling rounds")
    return [p[key] / c[key] if p.get(key) and c.get(key) else None for p, c in zip(product, ceiling, strict=True)]


def errors(rounds: list[dict]) -> int:
    """Failed requests, less the streams h2load cancelled itself when a timed run ended."""
    return sum(r["failed"] - r.get("detail", {}).get("cancelled_at_end", 0) for r in rounds)


def judge(
    product: list[dict], ceiling: list[dict], *, throughput_target: float | None, p99_target: float | None
) -> dict:
    """The verdict on a product's rounds against the ceiling's (each a Result as a dict).

    A target of None is not judged (its ratio is still reported); a failed request is always a MISS.
    """
    problems: list[str] = []
    failed = errors(product) + errors(ceiling)
    if failed:
        problems.append(f"{failed} requests failed")
    rps = per_round(product, ceiling, "rps")
    p99 = per_round(product, ceiling, "p99_ms")
    if None in p99:
        problems.append(f"p99 not measured in {p99.count(None)} of {len(p99)} rounds")
    if None in rps:
        problems.append(f"throughput not measured in {rps.count(None)} of {len(rps)} rounds")
    rps_spread = Spread.of(r for r in rps if r is not None) if any(r is not None for r in rps) else None
    p99_spread = Spread.of(r for r in p99 if r is not None) if any(r is not None for r in p99) else None
    judged_rps = throughput_target is not None and rps_spread is not None
    if judged_rps and rps_spread.median < throughput_target:
        problems.append(f"median throughput {rps_spread.median:.3f} of the ceiling, below {throughput_target}")
    judged_p99 = p99_target is not None and p99_spread is not None
    if judged_p99 and p99_spread.median > p99_target:
        problems.append(f"median p99 {p99_spread.median:.3f} times the ceiling's, above {p99_target}")
    if problems:
        verdict = MISS
    elif (not judged_rps or rps_spread.min >= throughput_target) and (not judged_p99 or p99_spread.max <= p99_target):
        verdict = PASS
    else:
        verdict = NOISY_PASS
    return {
        "rps_ratio": rps_spread.as_list() if rps_spread else None,
        "p99_ratio": p99_spread.as_list() if p99_spread else None,
        "verdict": verdict,
        "problems": problems,
    }


def judge_seconds(seconds: list[float], target: float, failed_runs: int = 0) -> dict:
    """A wall time measured several times against a target in seconds, read as judge() reads ratios."""
    spread = Spread.of(seconds)
    problems = [f"{failed_runs} of {len(seconds)} runs failed"] if failed_runs else []
    if spread.median > target:
        problems.append(f"median {spread.median:.1f} s, over {target} s")
    verdict = MISS if problems else (PASS if spread.max <= target else NOISY_PASS)
    return {"seconds": spread.as_list(1), "verdict": verdict, "problems": problems}


def misses(results: dict) -> list[str]:
    """Every judged figure whose verdict is a MISS, as 'section/endpoint/config: why'."""
    out = []
    for label, entry in results.get("deploy_cost", {}).items():
        judged = entry.get("judgement")
        if judged and judged["verdict"] == MISS:
            out.append(f"deploy/{label}: " + "; ".join(judged["problems"]))
    # throughput is {endpoint: {config: entry}}; websocket is {config: entry}.
    sections = {**results.get("throughput", {}), "ws": results.get("websocket", {})}
    for endpoint, by_config in sections.items():
        for name, entry in by_config.items():
            judged = entry.get("judgement")
            if judged and judged["verdict"] == MISS:
                out.append(f"{endpoint}/{name}: " + "; ".join(judged["problems"]))
    # app_cost is {config: entry}, measured to explain, not judged: only a failed request misses.
    for name, entry in results.get("app_cost", {}).items():
        if entry["failed"]:
            out.append(f"app_cost/{name}: {entry['failed']} failed requests")
    return out
