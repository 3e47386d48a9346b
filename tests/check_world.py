"""The hand-made world of the checker tests: a tiny instance and a valid plan (every number worked out
from shared/SPEC.md), and the helpers that break one thing in them (see tests/test_check.py)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from allocator.check.report import CheckReport

INSTANCE_FILES: dict[str, str] = {
    "instance.toml": """\
schema = 1
name = "tiny-check"
[horizon]
periods = 2
period_hours = 10.0
[objective]
carbon_price_yuan_per_kg = 0.1
""",
    "regions.csv": "region_id,grid_carbon_kg_per_kwh\nE,0.8\nW,0.5\n",
    "latency.csv": "from_region,to_region,rtt_ms\nE,W,30\n",
    "centers.csv": """\
center_id,region_id,kind,pue,green_kwh,min_green_share,grid_kwh_cap
C1,E,intelligent,1.5,0,0.6,5
C2,W,supercomputing,1.2,100,0.5,inf
C3,W,general,1.0,0,0,inf
""",
    "pools.csv": """\
pool_id,center_id,accelerator,cards,price_yuan_per_card_hour,kw_per_card
P1,C1,gpu,4,10,0.5
P2,C2,gpu,2,5,0.5
P3,C2,cpu,10,1,0.2
""",
    "compatibility.csv": """\
stack,accelerator,efficiency,adaptation_yuan
cuda,gpu,1.0,0
mpi,cpu,1.0,0
mpi,gpu,0.5,100
""",
    "programs.csv": """\
program_id,budget_yuan,rate,enterprise_cap_yuan,min_voucher_yuan,min_spend_yuan
PR1,1000,0.5,300,40,0
PR2,inf,0.3,inf,0,500
PR3,100,0.5,,0,0
""",
    "enterprises.csv": """\
enterprise_id,program_id,eligible,rate,cap_yuan,subsidy_ytd_yuan,spend_ytd_yuan
E1,PR1,true,,48,0,0
E2,PR2,true,,,0,400
E3,PR1,false,,,0,0
E4,PR1,true,,100,80,0
E5,PR3,true,,,0,0
""",
    "demands.csv": """\
demand_id,enterprise_id,home_region,stack,latency_class,card_hours,max_cards,release,deadline,priority,must_serve
D1,E1,W,cuda,batch,20,2,0,1,2,true
D2,E1,E,mpi,batch,20,,0,0,1,false
D3,E2,E,cuda,realtime,12,,0,1,1,false
D4,E3,E,cuda,batch,5,,,,1,false
D5,E4,W,cuda,batch,4,,,,1,false
D6,E1,E,cuda,realtime,5,,,,1,false
D7,E2,W,mpi,batch,500,1,1,1,1,false
D8,E2,E,cuda,batch,40,,,,1,false
D9,E5,W,cuda,batch,5,,,,1,false
D10,E1,W,rocm,batch,5,,,,1,false
""",
    "program_centers.csv": "program_id,center_id\nPR1,C2\nPR3,C3\n",
    "green.csv": "center_id,period,green_kwh\nC1,1,9\nC2,1,4\n",
    "capacity.csv": "pool_id,period,cards\nP1,1,2\nP2,0,1.5\n",
}


# The valid plan. E1: B = 100 + 20 = 120, S = min(0.5 * 120, 48) = 48, split 40 / 8.
# E2: B = 120, S = 0.3 * 120 = 36 (spend 400 + 120 >= 500). Energy: C1 period 1
# 12 * 0.5 * 1.5 = 9 kWh, all green; C2 period 0 10 * 0.5 * 1.2 + 20 * 0.2 * 1.2 = 10.8
# (green), period 1 6 kWh of which 4 green, 2 grid -> carbon 2 * 0.5 = 1 kg.
PLAN_FILES: dict[str, str] = {
    "assignments.csv": """\
demand_id,enterprise_id,pool_id,center_id,region_id,accelerator,usage_card_hours,bill_yuan,subsidy_yuan,enterprise_pays_yuan,rtt_ms
D1,E1,P2,C2,W,gpu,20,100,40,60,1
D2,E1,P3,C2,W,cpu,20,20,8,12,30
D3,E2,P1,C1,E,gpu,12,120,36,84,1
""",
    "schedule.csv": """\
demand_id,pool_id,period,card_hours
D1,P2,0,10
D1,P2,1,10
D2,P3,0,20
D3,P1,1,12
""",
    "unserved.csv": """\
demand_id,enterprise_id,reason
D4,E3,ineligible_enterprise
D5,E4,below_threshold
D6,E1,no_pool_within_latency
D7,E2,window_too_short
D8,E2,not_selected:capacity
D9,E5,no_designated_center
D10,E1,no_compatible_pool
""",
    "pools.csv": """\
pool_id,period,used_card_hours,capacity_card_hours,utilization
P1,0,0,40,0
P1,1,12,20,0.6
P2,0,10,15,0.6666666667
P2,1,10,20,0.5
P3,0,20,100,0.2
P3,1,0,100,0
""",
    "centers.csv": """\
center_id,period,energy_kwh,green_kwh,grid_kwh
C1,0,0,0,0
C1,1,9,9,0
C2,0,10.8,10.8,0
C2,1,6,4,2
C3,0,0,0,0
C3,1,0,0,0
""",
    "enterprises.csv": """\
enterprise_id,program_id,bill_yuan,subsidy_yuan,cap_remaining_yuan
E1,PR1,120,48,0
E2,PR2,120,36,inf
E3,PR1,0,0,300
E4,PR1,0,0,20
E5,PR3,0,0,inf
""",
    "programs.csv": """\
program_id,budget_yuan,subsidy_yuan,remaining_yuan
PR1,1000,48,952
PR2,inf,36,inf
PR3,100,0,100
""",
}


SUMMARY: dict = {
    "instance": "tiny-check",
    "instance_sha256": {},  # filled from the written instance files
    "method": "hand",
    "solver": "none",
    "solver_version": "0",
    "status": "optimal",
    "served_value": 72.0,  # 2 * 20 + 1 * 20 + 1 * 12
    "best_bound": 72.0,
    "gap": 0.0,
    "total_bill_yuan": 240.0,
    "total_subsidy_yuan": 84.0,
    "carbon_kg": 1.0,
    "cost_yuan": 240.1,
    "demands_served": 3,
    "demands_total": 10,
    "wall_seconds": {"load": 0.01, "build": 0.02, "solve": 0.03, "write": 0.01},
}


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def sha256_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}






def write_summary(plan: Path, instance: Path, **changes) -> None:
    summary = copy.deepcopy(SUMMARY) | {"instance_sha256": sha256_of(instance)} | changes
    (plan / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def edit(folder: Path, name: str, old: str, new: str) -> None:
    """Replace one exact piece of a file (the piece must be there once)."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not exactly once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def edit_instance(instance: Path, plan: Path, name: str, old: str, new: str) -> None:
    """Change the instance and keep the plan's sha256 in step, so only the rule is at stake."""
    edit(instance, name, old, new)
    write_summary(plan, instance)


def violations_about(report: CheckReport, *words: str) -> list[str]:
    return [v for v in report.violations if all(w in v for w in words)]


def assert_caught(report: CheckReport, *words: str) -> None:
    assert not report.ok
    assert violations_about(report, *words), f"no violation mentions {words}; got:\n" + "\n".join(report.violations)
