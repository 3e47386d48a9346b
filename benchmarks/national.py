"""The national-scale ladder of issue 5: the product's large-instance methods against HiGHS alone.

For each size, a synthetic instance (:mod:`benchmarks.synthetic`) is written once, then:

``ours``
    ``allocator solve --method M`` in a fresh process (M: fast, partition, ...), with its
    time limit; figures come from the plan's summary.json (served value, certified bound and
    gap, seconds per phase) and the child's peak resident memory.
``alone``
    HiGHS alone on the identical model: the same numpy-built matrix
    (:func:`models.build.build_matrix`), stage 1 (maximize value), no start, its own time
    limit. A callback records every improving incumbent, so the table can say when HiGHS alone
    first held a plan at least as good as ours ("time to our value") and the speed ratio.

Usage (from the repository root)::

    python -m benchmarks.national --sizes 10000x100x1 --method fast --time-limit 30 --gap 0.01 --alone-limit 300
    python -m benchmarks.national --sizes 5000x60x24 --method fast --time-limit 110 --gap 0.02 --alone-limit 300
    python -m benchmarks.national --sizes 50000x300x1 --method partition --parts 8 --workers 2 --time-limit 480 --gap 0.03 --alone-limit 0

On a Dask cluster (``dask scheduler --port 8786`` and ``dask worker tcp://127.0.0.1:8786
--nworkers 2 --nthreads 1``), add ``--scheduler tcp://127.0.0.1:8786`` instead of ``--workers``.
``--alone-limit 0`` skips HiGHS alone. Results: ``benchmarks/results/national-<time>.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import Size, make_instance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
LADDER = (Size(10000, 100, 1), Size(5000, 60, 24), Size(50000, 300, 1))


class Label:
    """A named instance folder in the table's size column."""

    def __init__(self, label: str) -> None:
        self.label = label


def parse_size(text: str) -> Size:
    d, p, t = (int(v) for v in text.lower().split("x"))
    return Size(d, p, t)


def run_ours(instance: Path, plan: Path, method: str, time_limit: float, parts: int, workers: int | None,
             gap: float | None = None, scheduler: str | None = None) -> dict:
    command = [sys.executable, "-m", "allocator.cli", "-q", "solve", str(instance), "-o", str(plan),
               "--method", method, "--time-limit", str(time_limit)]
    if gap is not None:
        command += ["--gap", str(gap)]
    if method == "partition":
        command += ["--parts", str(parts)] + (["--workers", str(workers)] if workers else [])
        command += ["--scheduler", scheduler] if scheduler else []
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-400:], "wall_s": wall}
    summary = json.loads((plan / "summary.json").read_text())
    check = subprocess.run([sys.executable, "-m", "allocator.cli", "check", str(instance), str(plan)], cwd=REPO,
                           capture_output=True, text=True)
    return {"wall_s": wall, "peak_mb": peak_mb, "checked": check.returncode == 0, **summary}


def run_alone(instance: Path, time_limit: float, threads: int | None) -> dict:
    """HiGHS alone on the numpy-built matrix; the incumbent trace as (seconds, value)."""
    import highspy

    from allocator.instance.reading import read_instance
    from allocator.instance.screening import screen
    from models.build import build_matrix
    from models.data import prepare

    inst = read_instance(instance)
    data = prepare(inst, screen(inst))
    mm = build_matrix(data)
    h = mm.to_highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-4)
    if threads:
        h.setOptionValue("threads", threads)
    trace: list[tuple[float, float]] = []

    def improving(callback_type, message, out, data_in, user_data):
        trace.append((float(out.running_time), float(out.objective_function_value)))

    h.setCallback(improving, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    t0 = time.perf_counter()
    h.run()
    info = h.getInfo()
    return {"seconds": time.perf_counter() - t0, "value": float(info.objective_function_value) if info.primal_solution_status == 2 else None,
            "bound": float(info.mip_dual_bound), "gap": float(info.mip_gap), "trace": trace,
            "cols": mm.n_cols, "rows": mm.n_rows, "nnz": mm.nnz}


def first_time_at_least(trace: list[tuple[float, float]], value: float) -> float | None:
    for seconds, v in trace:
        if v >= value * (1 - 1e-9):
            return seconds
    return None


def row_text(size: Size, ours: dict, alone: dict | None) -> str:
    if "error" in ours:
        return f"| {size.label} | error: {ours['error']} |"
    s = ours["wall_seconds"]
    ph = ", ".join(f"{k} {v:.1f}" for k, v in s.items())
    value, bound = float(ours["served_value"]), float(ours["best_bound"])
    cells = [size.label, ours["method"], f"{ours['wall_s']:.1f}", ph, f"{value:,.0f}", f"{bound:,.0f}",
             f"{ours['gap']:.2%}", f"{ours['peak_mb']:,.0f}", "yes" if ours["checked"] else "NO"]
    if alone:
        reached = first_time_at_least(alone["trace"], value)
        ratio = (f"{reached / ours['wall_s']:.1f}x" if reached is not None
                 else f"> {alone['seconds'] / ours['wall_s']:.1f}x")
        alone_value = "-" if alone["value"] is None else f"{alone['value']:,.0f}"
        cells += [f"{alone['cols']:,} x {alone['rows']:,} ({alone['nnz']:,} nz)", alone_value, f"{alone['bound']:,.0f}",
                  "-" if reached is None else f"{reached:.1f}", ratio]
    else:
        cells += ["-"] * 5
    return "| " + " | ".join(cells) + " |"


HEADER = ("| size | method | ours s | phases s | value | certified bound | gap | peak MB | check | "
          "model cols x rows | HiGHS alone value | HiGHS alone bound | HiGHS alone s to our value | speed-up |\n"
          "|" + "---|" * 14)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000x100x1", help="comma-separated DxPxT, or 'all'")
    parser.add_argument("--method", default="fast")
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--gap", type=float, default=None,
                        help="our target relative gap (allocator solve --gap; default: the method's own)")
    parser.add_argument("--scheduler", default=None,
                        help="partition: a running Dask scheduler's address (allocator solve --scheduler)")
    parser.add_argument("--alone-limit", type=float, default=300.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instance", type=Path, default=None,
                        help="measure this instance folder instead of the synthetic ladder (label: its folder name)")
    args = parser.parse_args(argv)
    sizes = LADDER if args.sizes == "all" else tuple(parse_size(s) for s in args.sizes.split(","))
    if args.instance is not None:
        sizes = (args.instance,)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    lines = [HEADER]
    print(HEADER, flush=True)
    for size in sizes:
        if isinstance(size, Path):
            instance, work = size, RESULTS / "national" / size.name
            size = Label(size.name)
        else:
            work = RESULTS / "national" / size.label
            instance = work / "instance"
            if not (instance / "instance.toml").exists():
                make_instance(instance, size.n_demands, size.n_pools, size.periods, seed=args.seed)
        work.mkdir(parents=True, exist_ok=True)
        ours = run_ours(instance, work / f"plan-{args.method}", args.method, args.time_limit, args.parts, args.workers, args.gap,
                        args.scheduler)
        alone = run_alone(instance, args.alone_limit, args.threads) if args.alone_limit > 0 else None
        (work / f"{args.method}.json").write_text(json.dumps({"ours": ours, "alone": alone}, indent=1, default=str))
        line = row_text(size, ours, alone)
        lines.append(line)
        print(line, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"national-{stamp}.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
