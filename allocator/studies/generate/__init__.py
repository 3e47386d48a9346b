"""Seeded instance families for benchmarks: ``allocator generate FAMILY -o DIR --seed N [knobs]``.

Three families (documented with every knob in ``docs/generate.md``):

* ``city`` -- one city's voucher programme for a day, :func:`allocator.studies.generate.city_day.city_day`;
* ``east-west`` -- the eight national hubs and their clusters, hourly,
  :func:`allocator.studies.generate.east_west.east_west`;
* ``gap-like`` -- the generalized assignment structure: one period, no subsidy,
  capacity-bound pools (Martello-Toth / Yagiura type C numbers), written exactly
  as :mod:`allocator.studies.gap` writes an OR-Library problem.

The knobs the two China families do not take themselves are applied here by
post-processing their tables, in a fixed order (:func:`apply_knobs`). Every
random draw comes from ``numpy.random.default_rng`` seeded with the seed (and a
fixed stream number per step), so the same seed and knobs write the same bytes.
"""
