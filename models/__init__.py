"""The optimization formulation of shared/SPEC.md, one module per constraint family.

Naming scheme (fixed once, used everywhere):

* index letters: k allowed (demand, pool) pair, d demand, p pool, c center,
  e enterprise, g program, t period; ``j`` a row of the usage table (one pair in
  one period of its window).
* sets UPPER_SNAKE (``PAIRS``, ``USAGE_VARS``, ``POOL_PERIODS``), parameters
  snake_case with units (``usage_card_hours``, ``bill_yuan``), variables nouns
  (``assign``, ``usage``, ``green``, ``subsidy``), constraints predicates
  (``one_pool_per_demand``, ``pool_capacity``, ``budget_limit``).

Only pairs that survive pre-screening (R1-R4, :mod:`allocator.instance.screening`) exist
in the model. :func:`models.build.build_model` (Pyomo) and :func:`models.build.build_matrix`
(numpy, for highspy) call the families in order; every family module has both forms.
This package depends only on :mod:`allocator.instance` (the Instance and Screen types).

Where each rule lives
=====================

:data:`RULE_MAP` says, for each rule of the SPEC, where it is screened, modelled (Pyomo and
matrix), relaxed (the Lagrangian bound), kept by the heuristics, explained (reasons of
unserved demands, or why an instance is infeasible) and checked (the independent checker),
each as ``module:function`` (tests/test_architecture.py imports every one of them).
:data:`FAMILIES` names the rules of each constraint family of :mod:`models.build`: a family
added there without an entry here fails that test. docs/architecture.md walks through
adding a family.
"""

FAMILIES: dict[str, tuple[str, ...]] = {
    "assignment": ("R1", "R2", "R3"),  # one pool per demand over the screened pairs
    "must_serve": ("R10",),
    "usage": ("R4",),
    "capacity": ("R5",),
    "energy": ("R6",),
    "subsidy": ("R7", "R8"),
    "budget": ("R9",),
    "objective": (),
}

_SCREEN = "allocator.instance.screening:screen"
_PAIRS = "models.assignment:add_assignment"
_PAIRS_MATRIX = "models.assignment:assignment_rows"
_PRICE = "models.lagrangian:Relaxation.price"

RULE_MAP: dict[str, dict[str, str]] = {
    "R1": {"screened": _SCREEN, "modelled": _PAIRS, "matrix": _PAIRS_MATRIX, "relaxed": _PRICE,
           "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.extract:unserved_reasons",
           "checked": "allocator.check.assignments:check_r1_eligibility"},
    "R2": {"screened": _SCREEN, "modelled": "models.usage:add_usage", "matrix": "models.usage:usage_rows",
           "relaxed": _PRICE, "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.extract:unserved_reasons",
           "checked": "allocator.check.assignments:check_r2_compatibility"},
    "R3": {"screened": _SCREEN, "modelled": _PAIRS, "matrix": _PAIRS_MATRIX, "relaxed": _PRICE,
           "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.extract:unserved_reasons",
           "checked": "allocator.check.assignments:check_r3_latency"},
    "R4": {"screened": _SCREEN, "modelled": "models.usage:add_usage", "matrix": "models.usage:usage_rows",
           "relaxed": "models.lagrangian:Relaxation.cheapest_schedule",
           "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.reasons:schedule_fits",
           "checked": "allocator.check.assignments:check_r4_schedule"},
    "R5": {"screened": _SCREEN, "modelled": "models.capacity:add_pool_capacity",
           "matrix": "models.capacity:pool_capacity_rows", "relaxed": _PRICE,
           "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.reasons:refine_reasons",
           "checked": "allocator.check.resources:check_r5_capacity"},
    "R6": {"screened": _SCREEN, "modelled": "models.energy:add_energy", "matrix": "models.energy:energy_rows",
           "relaxed": _PRICE, "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.reasons:refine_reasons",
           "checked": "allocator.check.resources:check_r6_energy"},
    "R7": {"screened": _SCREEN, "modelled": "models.subsidy:add_subsidy", "matrix": "models.subsidy:subsidy_rows",
           "relaxed": _PRICE, "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.extract:extract_plan",
           "checked": "allocator.check.money:check_r7_bills"},
    "R8": {"screened": "allocator.plan.extract:threshold_blocks_alone", "modelled": "models.subsidy:add_subsidy",
           "matrix": "models.subsidy:subsidy_rows", "relaxed": _PRICE,
           "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.reasons:refine_reasons",
           "checked": "allocator.check.money:check_r8_subsidies"},
    "R9": {"screened": "models.subsidy:budget_may_bind", "modelled": "models.budget:add_budget",
           "matrix": "models.budget:budget_rows", "relaxed": _PRICE,
           "kept": "allocator.solve.heuristics:place_in_order",
           "explained": "allocator.plan.reasons:refine_reasons",
           "checked": "allocator.check.money:check_r9_budgets"},
    "R10": {"screened": "allocator.solve.pipeline:check_must_serve", "modelled": "models.must_serve:add_must_serve",
            "matrix": "models.must_serve:must_serve_rows", "relaxed": _PRICE,
            "kept": "allocator.solve.heuristics:place_in_order",
            "explained": "allocator.solve.infeasible:explain_infeasible",
            "checked": "allocator.check.assignments:check_r10_must_serve"},
}
ASPECTS = ("screened", "modelled", "matrix", "relaxed", "kept", "explained", "checked")
