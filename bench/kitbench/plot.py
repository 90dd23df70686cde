"""The bench's one picture: every item of the run in one PNG, targets drawn in."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PASS, MISS, CEILING, GREY = "#2e7d32", "#c62828", "#90a4ae", "#607d8b"
PRODUCTS = {"https-h1/wrk": "HTTP/1.1", "https-h2/h2load": "HTTP/2"}
ENDPOINT_NAMES = {"health": "/health", "notes": "/api/notes"}


def _no_data(ax, title: str, why: str) -> None:
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True, color=GREY, transform=ax.transAxes)
    ax.set_axis_off()


def _ratio_panel(ax, results: dict, key: str, target: float, title: str, better: str) -> None:
    bars = []
    for endpoint, by_config in results["throughput"].items():
        for name, label in PRODUCTS.items():
            if name in by_config:
                bars.append(
                    (f"{ENDPOINT_NAMES[endpoint]}\n{label}", by_config[name], by_config[by_config[name]["baseline"]])
                )
    if not bars:
        _no_data(ax, title, "HTTPS not measured:\n" + str(results["https"]["reason"]))
        return
    values = [entry[key] for _, entry, _ in bars]
    ok = [(v >= target) if better == "higher" else (v <= target) for v in values]
    positions = range(len(bars))
    ax.bar(positions, values, color=[PASS if good else MISS for good in ok], width=0.6)
    spreads = [(entry.get("judgement") or {}).get(key) for _, entry, _ in bars]
    if all(spreads):  # the min-max of the per-round ratios
        below = [median - low for low, median, _ in spreads]
        above = [high - median for _, median, high in spreads]
        ax.errorbar(positions, values, yerr=[below, above], fmt="none", ecolor="black", capsize=4, linewidth=1)
    ax.axhline(target, color="black", linestyle="--", linewidth=1)
    ax.axhline(1.0, color=CEILING, linewidth=1)
    if key == "rps_ratio":  # what the product's CPU cost per request allows, where the CPU is the limit
        cpu = [
            (x, entry["cpu_ratio"]) for x, (_, entry, _) in zip(positions, bars, strict=True) if entry.get("cpu_ratio")
        ]
        if cpu:
            ax.scatter(*zip(*cpu, strict=True), marker="D", color="black", zorder=5, s=28)
    for x, (_, entry, base) in zip(positions, bars, strict=True):
        if key == "rps_ratio":
            detail = f"{entry[key]:.2f}\n{entry['rps']:.0f}/{base['rps']:.0f}\nreq/s"
        else:
            detail = f"{entry[key]:.2f}x\n{entry['p99_ms']:.0f}/{base['p99_ms']:.0f}\nms"
        ax.text(x, 0.04, detail, ha="center", va="bottom", fontsize=7.5, color="white", fontweight="bold")
    ax.set_xticks(list(positions), [name for name, _, _ in bars], fontsize=8)
    ax.set_ylim(0, max(max(values), target, 1.0) * 1.35)
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)


def _new_connection_panel(ax, results: dict) -> None:
    title = "New connection per request, /health\n(4 client processes)"
    entries = results.get("new_connection", {})
    names = {"tcp": "plain TCP to Gunicorn", "tls-resume": "HTTPS, TLS 1.3 resumed", "tls": "HTTPS, TLS 1.3 full"}
    rows = [(names[m], entries[m]) for m in ("tcp", "tls-resume", "tls") if m in entries]
    if not rows:
        _no_data(ax, title, "not measured")
        return
    y = range(len(rows))
    ax.barh(list(y), [e["rps"] for _, e in rows], color=[CEILING if "TCP" in n else "#1565c0" for n, _ in rows])
    for i, (name, entry) in enumerate(rows):
        resumed = f", {entry['resumed_fraction']:.0%} resumed" if "TLS" in name else ""
        nginx = entry.get("cpu_ms_per_request", {}).get("proxy")
        cost = f"\n nginx {nginx:.2f} ms CPU each" if nginx else ""
        ax.text(entry["rps"], i, f" {entry['rps']:.0f}/s{resumed}{cost}", va="center", fontsize=8)
    ax.set_yticks(list(y), [n for n, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(e["rps"] for _, e in rows) * 1.45)
    ax.set_xlabel("requests/s")
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)


def _workers_panel(ax, results: dict) -> None:
    sweep = results.get("worker_sweep")
    title = "Workers: throughput (lines), idle memory (bars)"
    if not sweep:
        _no_data(ax, title, "not measured")
        return
    workers = [int(w) for w in sweep]
    memory = ax.twinx()
    stack = [sum(g["pss_kib"] for g in e["memory"].values()) / 1024 for e in sweep.values()]
    memory.bar(workers, stack, width=0.5, color="#eceff1", zorder=0)
    for w, mib in zip(workers, stack, strict=True):
        memory.text(w, mib, f"{mib:.0f} MiB", ha="center", va="bottom", fontsize=7, color=GREY)
    memory.set_ylabel("stack PSS at idle, MiB", color=GREY)
    memory.set_ylim(0, max(stack) * 2.2)
    ax.set_zorder(memory.get_zorder() + 1)
    ax.patch.set_visible(False)
    styles = {"ceiling": ":", "https-h1": "-"}
    colors = {"health": "#1565c0", "notes": "#ef6c00"}
    for key in next(iter(sweep.values())):
        if "/" not in key:
            continue
        endpoint, path = key.split("/")
        label = f"{ENDPOINT_NAMES[endpoint]} {'direct' if path == 'ceiling' else 'HTTPS'}"
        values = [entry[key]["rps"] for entry in sweep.values()]
        ax.plot(workers, values, styles[path], marker="o", color=colors[endpoint], label=label)
    ax.set_xticks(workers)
    ax.set_xlabel("Gunicorn workers")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10)


def _cpu_panel(ax, results: dict) -> None:
    title = "CPU per request (wrk): where the cores go"
    roles = [("app", "app (Gunicorn)", "#1565c0"), ("proxy", "nginx + TLS", "#ef6c00"),
             ("client", "load generator", CEILING), ("other", "rest", "#eceff1")]  # fmt: skip
    rows = []
    for endpoint, by_config in results["throughput"].items():
        for name, label in (("ceiling/wrk", "direct"), ("https-h1/wrk", "HTTPS")):
            cpu = by_config.get(name, {}).get("cpu_ms_per_request")
            if cpu:
                rows.append((f"{ENDPOINT_NAMES[endpoint]} {label}", cpu))
    if not rows:
        _no_data(ax, title, "not measured")
        return
    y = list(range(len(rows)))
    left = [0.0] * len(rows)
    for role, label, color in roles:
        widths = [cpu.get(role, 0.0) for _, cpu in rows]
        ax.barh(y, widths, left=left, color=color, label=label, edgecolor="white")
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:.2f} ms", va="center", fontsize=8)
    ax.set_yticks(y, [name for name, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left) * 1.3)
    ax.set_xlabel("CPU ms per request")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)


def _deploy_panel(ax, results: dict) -> None:
    title = "Deploy cost (wall time)"
    cost = {k: v for k, v in results.get("deploy_cost", {}).items() if v.get("seconds") is not None}
    if not cost:
        _no_data(ax, title, "not measured")
        return
    labels = list(cost)
    minutes = [cost[k]["seconds"] / 60 for k in labels]
    y = range(len(labels))
    # Red for a failed run or a missed target (the verdict of kitbench.verdict), green otherwise.
    missed = [not cost[k]["ok"] or (cost[k].get("judgement") or {}).get("verdict") == "MISS" for k in labels]
    ax.barh(list(y), minutes, color=[MISS if miss else PASS for miss in missed])
    for i, k in enumerate(labels):
        m, s = divmod(cost[k]["seconds"], 60)
        ax.text(minutes[i], i, f" {int(m)}:{s:04.1f}", va="center", fontsize=8)
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(minutes) * 1.25)
    ax.set_xlabel("minutes")
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)


def bench_png(results: dict, path: Path) -> None:
    m = results["machine"]
    fig = plt.figure(figsize=(16, 9.5), layout="constrained")
    grid = fig.add_gridspec(2, 6)
    targets = results["targets"]
    _ratio_panel(
        fig.add_subplot(grid[0, 0:2]), results, "rps_ratio", targets["throughput_ratio"],
        "Throughput via nginx + TLS, share of the ceiling\n(dashed: target; \u25c6: what its CPU cost allows)",
        "higher",
    )  # fmt: skip
    _ratio_panel(
        fig.add_subplot(grid[0, 2:4]), results, "p99_ratio", targets["p99_ratio"],
        "p99 latency via nginx + TLS, times the ceiling's\n(dashed: target)", "lower",
    )  # fmt: skip
    _new_connection_panel(fig.add_subplot(grid[0, 4:6]), results)
    _workers_panel(fig.add_subplot(grid[1, 0:2]), results)
    _cpu_panel(fig.add_subplot(grid[1, 2:4]), results)
    _deploy_panel(fig.add_subplot(grid[1, 4:6]), results)
    fig.suptitle(
        f"fastapi-kit bench, {results['date']}: {m['cpus']} shared cores, {m['memory_gib']} GiB, kernel {m['kernel']}"
        f"  (green: meets its target, red: misses it; ceiling = the same Gunicorn workers without nginx)",
        fontsize=11,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
