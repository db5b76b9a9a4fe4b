"""The latency table of a load run: p50, p99 and req/s per request name, for all API requests
together, and for the bare endpoint, from the response times the locustfile kept (LOAD_RESULTS).

    .venv-load/bin/python bench/load/report.py out/results.json
"""

import json
import sys

BARE = "GET /health/live (bare)"


def percentile(sorted_times, share):
    """Nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(sorted_times) * share // 1))
    return sorted_times[int(rank) - 1]


def row(name, times, seconds):
    times = sorted(times)
    return (
        f"| {name} | {len(times)} | {percentile(times, 0.5):.1f} | {percentile(times, 0.99):.1f} "
        f"| {len(times) / seconds:.1f} |"
    )


def table(results):
    seconds = results["window_seconds"]
    times = results["response_times_ms"]
    api = [t for name, values in times.items() if name != BARE for t in values]
    lines = [
        f"measured over {seconds:.1f} s (first to last answer)",
        "",
        "| request | count | p50 ms | p99 ms | req/s |",
        "|---|---:|---:|---:|---:|",
        *(row(name, values, seconds) for name, values in times.items() if name != BARE),
        row("**all API requests**", api, seconds),
    ]
    if BARE in times:
        lines.append(row(f"**{BARE}**", times[BARE], seconds))
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(json.load(open(sys.argv[1]))))
