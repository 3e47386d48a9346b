"""The optimization formulation of shared/SPEC.md, one module per constraint family.

Naming scheme (fixed once, used everywhere):

* index letters: k allowed (demand, pool) pair, d demand, p pool, c center,
  e enterprise, g program, t period; ``j`` a row of the usage table (one pair in
  one period of its window).
* sets UPPER_SNAKE (``PAIRS``, ``USAGE_VARS``, ``POOL_PERIODS``), parameters
  snake_case with units (``usage_card_hours``, ``bill_yuan``), variables nouns
  (``assign``, ``usage``, ``green``, ``subsidy``), constraints predicates
  (``one_pool_per_demand``, ``pool_capacity``, ``budget_limit``).

Only pairs that survive pre-screening (R1-R4, :mod:`allocator.screening`) exist
in the model. :func:`models.build.build_model` calls the families in order.
"""
