"""The regime table: ``allocator solve`` and HiGHS alone on every (regime, size).

For each pair the instance is written (:func:`benchmarks.regimes.make_sized`), then

``ours``
    ``python -m allocator.cli -q solve INSTANCE -o PLAN --time-limit S`` in a fresh process;
    wall seconds measured here, around the child; the child's peak resident memory from
    ``os.wait4`` (that child alone); served value, certified bound, gap and status from its
    summary.json; ``allocator check INSTANCE PLAN`` on the plan (valid, or the number of
    violations).
``alone``
    HiGHS alone on the identical matrix (:func:`benchmarks.national.run_alone`:
    ``models.build.build_matrix``, value stage, no start, ``--alone-limit`` seconds), in a
    fresh process of its own; its value and bound at its limit and the first time its
    incumbent reached our value. ``--alone-limit 0`` skips it.

Results: ``OUT/regimes.csv`` (every figure), ``OUT/regimes.md`` (the table, also printed),
``OUT/<size>/<regime>/`` (instance, plan, logs, alone.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.regimes.family import make_sized
from benchmarks.regimes.knobs import REGIMES, size_named

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"

COLUMNS = [
    "regime", "size", "demands", "pools", "periods", "must_serve", "exit", "status", "method", "value", "bound",
    "gap_pct", "wall_s", "peak_mb", "check", "violations", "alone_value", "alone_bound", "alone_gap_pct",
    "alone_s", "alone_s_to_our_value", "alone_cols", "alone_rows", "error",
]


def run_child(command: list[str], log: Path, timeout: float) -> tuple[int, float, float]:
    """Run ``command`` in a fresh process; (exit code, wall seconds, peak resident MiB of that process).

    The child is stopped (SIGTERM, then SIGKILL) if it runs past ``timeout`` seconds; exit code -9 / -15 then.
    """
    with open(log, "w", encoding="utf-8") as out:
        t0 = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.terminate()
                try:
                    pid, status, usage = _wait4_within(child.pid, 10.0)
                except TimeoutError:
                    child.kill()
                    pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return child.returncode, wall, usage.ru_maxrss / 1024.0


def _wait4_within(pid: int, seconds: float):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        time.sleep(0.05)
    raise TimeoutError


def violations_in(log: Path) -> int:
    """Violations listed by ``allocator check`` (its lines ``violation: ...``)."""
    return sum(1 for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.startswith("violation:"))


def measure(regime: str, size_label: str, out: Path, args: argparse.Namespace) -> dict:
    size = size_named(size_label, args.seed)
    work = out / size_label / regime
    instance, plan = work / "instance", work / "plan"
    work.mkdir(parents=True, exist_ok=True)
    make_sized(instance, regime, size, args.seed)
    row: dict = {"regime": regime, "size": size_label, "demands": size.n_demands, "pools": size.n_pools,
                 "periods": size.periods}
    with open(instance / "demands.csv", encoding="utf-8") as f:
        row["must_serve"] = sum(1 for r in csv.DictReader(f) if r["must_serve"] == "true")
    command = [sys.executable, "-m", "allocator.cli", "-q", "solve", str(instance), "-o", str(plan),
               "--time-limit", str(args.time_limit)]
    command += ["--method", args.method] if args.method else []
    command += ["--gap", str(args.gap)] if args.gap is not None else []
    command += ["--threads", str(args.threads)] if args.threads else []
    code, wall, peak = run_child(command, work / "solve.log", 1.5 * args.time_limit + 120.0)
    row.update({"exit": code, "wall_s": round(wall, 2), "peak_mb": round(peak, 1)})
    if code == 0 and (plan / "summary.json").is_file():
        summary = json.loads((plan / "summary.json").read_text(encoding="utf-8"))
        value, bound = float(summary["served_value"]), float(summary["best_bound"])
        row.update({"status": summary.get("status"), "method": summary.get("method"), "value": value, "bound": bound,
                    "gap_pct": round(100.0 * float(summary["gap"]), 3)})
        check = subprocess.run([sys.executable, "-m", "allocator.cli", "check", str(instance), str(plan)], cwd=REPO,
                               capture_output=True, text=True, check=False)
        (work / "check.log").write_text(check.stdout + check.stderr, encoding="utf-8")
        row["check"] = "valid" if check.returncode == 0 else f"exit {check.returncode}"
        row["violations"] = 0 if check.returncode == 0 else violations_in(work / "check.log")
    else:
        tail = (work / "solve.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        row["error"] = tail[0][:200] if tail else f"exit {code}"
    if args.alone_limit > 0:
        alone_json = work / "alone.json"
        command = [sys.executable, "-m", "benchmarks.regimes", "alone", str(instance), "--time-limit",
                   str(args.alone_limit), "--json", str(alone_json)]
        command += ["--threads", str(args.threads)] if args.threads else []
        code, _, _ = run_child(command, work / "alone.log", 1.5 * args.alone_limit + 300.0)
        if code == 0 and alone_json.is_file():
            alone = json.loads(alone_json.read_text(encoding="utf-8"))
            row.update({"alone_value": alone["value"], "alone_bound": alone["bound"], "alone_s": round(alone["seconds"], 1),
                        "alone_gap_pct": round(100.0 * alone["gap"], 3) if alone["value"] is not None else None,
                        "alone_cols": alone["cols"], "alone_rows": alone["rows"]})
            if row.get("value") is not None:
                reached = next((s for s, v in alone["trace"] if v >= row["value"] * (1 - 1e-9)), None)
                if reached is None and alone["value"] is not None and alone["value"] >= row["value"] * (1 - 1e-9):
                    reached = alone["seconds"]  # found before the callback could report it (presolve, root)
                row["alone_s_to_our_value"] = None if reached is None else round(reached, 1)
        else:
            row["alone_value"] = f"failed (exit {code})"
    return row


def _num(x, digits: int = 0) -> str:
    if x is None or x == "" or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, str):
        return x
    return f"{x + 0.0:,.{digits}f}".replace("-0", "0") if abs(x) < 0.5 * 10 ** -digits else f"{x:,.{digits}f}"


HEADER = ("| regime | size | method | value | certified bound | gap % | wall s | peak MB | check | "
          "HiGHS alone value | HiGHS alone bound | HiGHS alone s to our value |\n" + "|---" * 12 + "|")


def row_text(r: dict) -> str:
    if r.get("value") is None:
        ours = [f"no plan: {r.get('error', '')}", "-", "-"]
    else:
        ours = [_num(r["value"]), _num(r["bound"]), _num(r["gap_pct"], 2)]
    check = "-" if r.get("check") is None else ("valid" if r["check"] == "valid" else f"{r['violations']} violations")
    reached = r.get("alone_s_to_our_value")
    if "alone_value" not in r:
        alone = ["not run", "-", "-"]
    else:
        never = f"never in {_num(r.get('alone_s'), 0)} s" if r.get("alone_s") is not None else "-"
        alone = [_num(r["alone_value"]) if r["alone_value"] is not None else "no plan", _num(r.get("alone_bound")),
                 _num(reached, 1) if reached is not None else never]
    cells = [r["regime"], r["size"], r.get("method") or "-", *ours, _num(r["wall_s"], 1), _num(r["peak_mb"]), check, *alone]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main_run(args: argparse.Namespace) -> int:
    regimes = list(REGIMES) if args.regimes == "all" else args.regimes.split(",")
    unknown = [r for r in regimes if r not in REGIMES]
    if unknown:
        raise SystemExit(f"unknown regime(s): {', '.join(unknown)}; one of {', '.join(REGIMES)}")
    sizes = args.sizes.split(",")
    for s in sizes:
        size_named(s, args.seed)  # fails early on an unknown size
    out = args.output or RESULTS / f"regimes-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    rows, lines = [], [HEADER]
    print(HEADER, flush=True)
    for size in sizes:
        for regime in regimes:
            row = measure(regime, size, out, args)
            rows.append(row)
            lines.append(row_text(row))
            print(lines[-1], flush=True)
            _write(out, rows, lines, args)
    print(f"\nwritten: {out / 'regimes.md'} and {out / 'regimes.csv'}", flush=True)
    return 0


def _write(out: Path, rows: list[dict], lines: list[str], args: argparse.Namespace) -> None:
    with open(out / "regimes.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    note = (f"Seed {args.seed}; `allocator solve --time-limit {args.time_limit}`"
            f"{' --method ' + args.method if args.method else ''}{' --gap ' + str(args.gap) if args.gap is not None else ''}; "
            f"HiGHS alone limit {args.alone_limit} s; gap = (bound - value) / bound.\n\n")
    (out / "regimes.md").write_text(note + "\n".join(lines) + "\n", encoding="utf-8")


def main_alone(args: argparse.Namespace) -> int:
    from benchmarks.national import run_alone

    result = run_alone(args.instance, args.time_limit, args.threads)
    args.json.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


def main_write(args: argparse.Namespace) -> int:
    folder = make_sized(args.output, args.regime, args.size, args.seed)
    print(folder)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.regimes", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="measure every (regime, size) and write the table")
    run.add_argument("--sizes", default="1000x1", help="comma-separated: tiny, 1000x1, 10000x1, 1500x24, 5000x24, "
                                                       "50000x300, national, or DxPxT")
    run.add_argument("--regimes", default="all", help=f"comma-separated, or all: {', '.join(REGIMES)}")
    run.add_argument("--time-limit", type=float, default=30.0, help="allocator solve --time-limit (seconds)")
    run.add_argument("--alone-limit", type=float, default=60.0, help="HiGHS alone's time limit; 0 skips it")
    run.add_argument("--method", default=None, help="allocator solve --method (default: the tool's own)")
    run.add_argument("--gap", type=float, default=None, help="allocator solve --gap")
    run.add_argument("--threads", type=int, default=None)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("-o", "--output", type=Path, default=None, help="results folder (default benchmarks/results/regimes-<time>)")
    write = sub.add_parser("write", help="write one regime instance")
    write.add_argument("--regime", required=True, choices=REGIMES)
    write.add_argument("--size", required=True)
    write.add_argument("--seed", type=int, default=0)
    write.add_argument("-o", "--output", type=Path, required=True)
    alone = sub.add_parser("alone", help="HiGHS alone on an instance's matrix (used by run, in its own process)")
    alone.add_argument("instance", type=Path)
    alone.add_argument("--time-limit", type=float, required=True)
    alone.add_argument("--threads", type=int, default=None)
    alone.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    return {"run": main_run, "write": main_write, "alone": main_alone}[args.command](args)
