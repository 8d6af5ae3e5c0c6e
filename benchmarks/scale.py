"""Streamed runs of the local model at 10,000 and 100,000 products: in this process and on Ray (2 actors).

Each case is the real CLI (``src/run_assign_cat.py --model local --engine ...``) in its own process; the
driver's peak RSS is its VmHWM, read from /proc every 0.2 s until it exits. items/s is the run's own
``timing.json`` (products processed / processing seconds, model loading apart) and the wall clock.
The load average is recorded before and after each case: the machine is shared, and a loaded machine
slows both engines alike only when they run at the same time (``--side-by-side`` runs the in-process and
the Ray case of a size at once, each then having about half the machine).

Writes benchmarks/scale_results.md (and .json).
Run: python benchmarks/scale.py [--sizes 10000 100000] [--side-by-side] [--part-rows 2000] [--engines process ray]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from bench_inputs import default_source, machine_facts, write_products  # noqa: E402

OUT = ROOT / "benchmarks" / "scale_results.md"
TARGET_ITEMS = 10_000_000
ENGINES = ("process", "ray")


def peak_rss_mb(pid: int, stop: threading.Event, out: list[float]) -> None:
    """The process's VmHWM (peak resident set), polled until it exits."""
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out.append(int(line.split()[1]) / 1024)
        except (FileNotFoundError, ProcessLookupError):
            return
        stop.wait(0.2)


def start_case(engine: str, catalog: Path, runs: Path, actors: int, part_rows: int) -> dict:
    args = [sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--model", "local", "--input", str(catalog),
            "--engine", engine, "--runs-dir", str(runs), "--part-rows", str(part_rows)]
    if engine == "ray":
        args += ["--concurrency", str(actors)]
    case = {"engine": engine, "load_before": os.getloadavg()[0], "clock": time.perf_counter(), "rss": []}
    case["proc"] = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    case["stop"] = threading.Event()
    case["thread"] = threading.Thread(target=peak_rss_mb, args=(case["proc"].pid, case["stop"], case["rss"]))
    case["thread"].start()
    return case


def steady_rate(parts_jsonl: Path) -> float | None:
    """items/s once every worker is warm: the rows of the parts finished after the first one, over the time
    from the first part's end to the last part's end (model loading in the actors left out)."""
    import datetime as dt

    records = [json.loads(line) for line in parts_jsonl.read_text().splitlines() if line.strip()]
    ends = sorted((dt.datetime.fromisoformat(r["finished_at"]), r["rows"]) for r in records)
    if len(ends) < 3:
        return None
    span = (ends[-1][0] - ends[0][0]).total_seconds()
    return round(sum(rows for _, rows in ends[1:]) / span, 1) if span > 0 else None


def finish_case(case: dict, n: int, runs: Path) -> dict:
    stdout, _ = case["proc"].communicate()
    wall = time.perf_counter() - case["clock"]
    case["stop"].set()
    case["thread"].join()
    line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    folder = Path(line.rsplit(" | ", 1)[-1]) if " | " in line else None
    timing = json.loads((folder / "outputs" / "timing.json").read_text()) if folder else {}
    return {"engine": case["engine"], "items": n, "exit": case["proc"].returncode, "summary": line,
            "wall_seconds": round(wall, 1), "setup_seconds": timing.get("setup_seconds"),
            "processing_seconds": timing.get("processing_seconds"),
            "items_per_second": timing.get("products_per_second"),
            "items_per_second_wall": round(n / wall, 1), "driver_peak_rss_mb": round(max(case["rss"] or [0]), 1),
            "items_per_second_warm": steady_rate(folder / "outputs" / "parts.jsonl") if folder else None,
            "load_before": round(case["load_before"], 2), "load_after": round(os.getloadavg()[0], 2),
            "table": "csv" if folder and (folder / "outputs" / "classifications.csv").exists() else "parquet"}


def save(results: list[dict], actors: int, side_by_side: bool) -> None:
    OUT.with_suffix(".json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    OUT.write_text(report(results, actors, side_by_side))


def run(sizes: list[int], actors: int, side_by_side: bool, part_rows: int, earlier: list[dict],
        engines: tuple[str, ...] = ENGINES) -> list[dict]:
    results = list(earlier)
    with tempfile.TemporaryDirectory(prefix="labnb-scale-") as tmp:
        for n in sizes:
            catalog = write_products(Path(tmp) / f"catalog-{n}.csv", n, default_source())
            if side_by_side:
                cases = [start_case(e, catalog, Path(tmp) / f"runs-{e}-{n}", actors, part_rows) for e in engines]
                results += [finish_case(c, n, Path(tmp)) for c in cases]
            else:
                for engine in engines:
                    case = start_case(engine, catalog, Path(tmp) / f"runs-{engine}-{n}", actors, part_rows)
                    results.append(finish_case(case, n, Path(tmp)))
            for r in results[-len(engines):]:
                print(json.dumps(r), flush=True)
            save(results, actors, side_by_side)  # each size as it is measured
    return results


def report(results: list[dict], actors: int, side_by_side: bool) -> str:
    cores = os.cpu_count() or 1
    rows = ["| items | engine | items/s (processing) | items/s (warm) | items/s (wall) | setup s | wall s | "
            "driver peak RSS MB | load avg before → after | table |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        label = "in-process" if r["engine"] == "process" else f"Ray, {actors} actors"
        rows.append(f"| {r['items']:,} | {label} | {r['items_per_second']} | {r.get('items_per_second_warm')} | "
                    f"{r['items_per_second_wall']} | "
                    f"{r['setup_seconds']} | {r['wall_seconds']} | {r['driver_peak_rss_mb']} | "
                    f"{r['load_before']} → {r['load_after']} | {r['table']} |")
    by = {(r["engine"], r["items"]): r for r in results}
    checks = []
    for engine, label in (("process", "in-process"), ("ray", f"Ray ({actors} actors)")):
        sizes = sorted(n for e, n in by if e == engine and by[e, n]["items_per_second"])
        if len(sizes) > 1:
            low, high = by[engine, sizes[0]], by[engine, sizes[-1]]
            checks.append(f"- {label} driver peak RSS at {sizes[-1]:,} / at {sizes[0]:,}: "
                          f"{high['driver_peak_rss_mb'] / low['driver_peak_rss_mb']:.2f}× "
                          f"({'target ≤ 1.2×' if engine == 'process' else 'target: flat'})")
            if engine == "process":
                checks.append(f"- {label} items/s at {sizes[-1]:,} / at {sizes[0]:,}: "
                              f"{high['items_per_second'] / low['items_per_second']:.2f}× (target ≥ 1.0×)")
    for n in sorted({n for _, n in by}):
        local, ray = by.get(("process", n)), by.get(("ray", n))
        if local and ray and local["items_per_second"] and ray["items_per_second"]:
            warm = (f"; warm {ray['items_per_second_warm'] / local['items_per_second_warm']:.2f}×"
                    if ray.get("items_per_second_warm") and local.get("items_per_second_warm") else "")
            checks.append(f"- Ray ({actors} actors) / in-process items/s at {n:,}: "
                          f"{ray['items_per_second'] / local['items_per_second']:.2f}×{warm} (target ≥ 0.9×)")
    measured = [r for r in results if r["items_per_second"]]
    p_large = max((r for r in measured if r["engine"] == "process"), key=lambda r: r["items"], default=None)
    ray_large = max((r for r in measured if r["engine"] == "ray"), key=lambda r: r["items"], default=None)
    projection = []
    for r in (p_large, ray_large):
        if r and r["items_per_second"]:
            # side by side, each case had about half the machine (cores / 2): per core is its rate over that
            per_core = r["items_per_second"] / (cores / 2 if side_by_side else cores)
            label = ("in-process" if r["engine"] == "process" else f"Ray, {actors} actors") + f", {r['items']:,}"
            for hours in (1, 0.25):
                need = TARGET_ITEMS / (per_core * hours * 3600)
                projection.append(f"| {label} | {per_core:.1f} | {hours:g} h | {need:,.0f} |")
            projection.append(f"| {label} | {per_core:.1f} | {TARGET_ITEMS / per_core / 3600 / 64:.1f} h | 64 |")
    mode = ("side by side (the in-process and the Ray case of each size at the same time, each with about half "
            "the machine)" if side_by_side else "one case after the other")
    return "\n".join([
        "# Streamed runs of the local model: in-process and on Ray", "",
        "Measured by `python benchmarks/scale.py" + (" --side-by-side" if side_by_side else "") + "` "
        f"({mode}); the catalog cycles the real sports-supplement titles with variant suffixes "
        "(`benchmarks/bench_inputs.py`). items/s (processing) is the run's timing.json: products processed / "
        "seconds after the model is loaded and fitted; wall includes Python start, model load and (Ray) the "
        "cluster start; warm is the rate after the first part landed (every actor has loaded its model by "
        "then), from the parts' records.", "",
        *machine_facts(), "- load average (1 min) before and after each case is in the table: this machine is "
        "shared by other work, so absolute numbers move with it", "",
        *rows, "", "## Against the targets", "", *checks, "",
        f"## Projection to {TARGET_ITEMS:,} items (a projection, not a measurement)", "",
        "items/s per core = measured items/s / the cores the case had ("
        + (f"{cores} / 2: the two cases ran at once" if side_by_side else f"{cores}: this machine's")
        + "). Cores needed = 10M / (items/s per "
        "core × wall time); it assumes the cluster's cores are as fast as these and that the input is on "
        "storage every node reads (the parts are independent, so the work divides evenly).", "",
        "| measured on | items/s per core | wall time for 10M | cores needed |", "|---|---:|---:|---:|",
        *projection, "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--side-by-side", action="store_true")
    parser.add_argument("--part-rows", type=int, default=2000, help="rows per part (enough parts for every actor)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        help="the engines to measure (default both)")
    parser.add_argument("--append", action="store_true", help="keep the cases already in scale_results.json")
    parser.add_argument("--report-only", metavar="PARTS_DIR", help="rewrite the report from scale_results.json "
                        "(warm rates from PARTS_DIR/runs-<engine>-<items>/parts.jsonl, copies of the runs' records)")
    args = parser.parse_args()
    if args.report_only:
        results = json.loads(OUT.with_suffix(".json").read_text())
        for r in results:
            parts = Path(args.report_only) / f"runs-{r['engine']}-{r['items']}" / "parts.jsonl"
            if parts.exists():
                r["items_per_second_warm"] = steady_rate(parts)
        save(results, args.actors, args.side_by_side)
        print(OUT.read_text())
        return
    earlier = json.loads(OUT.with_suffix(".json").read_text()) if args.append else []
    run(args.sizes, args.actors, args.side_by_side, args.part_rows, earlier, tuple(args.engines))
    print(OUT.read_text())


if __name__ == "__main__":
    main()
