"""An independent reference model of shared/SPEC.md for small instances.

Written from the SPEC alone: nothing here imports ``allocator`` or ``models``, so
the product's optimum, bounds and plans can be checked against a second reading
of the rules.

- :mod:`tests.reference.reader`: an instance folder to plain dataclasses, defaults applied.
- :mod:`tests.reference.model`: the rules R1-R10 as one MIP built directly with highspy,
  solved lexicographically (value, then cost): :func:`reference_solve`; a given assignment
  checked and costed: :func:`reference_evaluate`.
- :mod:`tests.reference.brute`: every assignment of a tiny one-period instance enumerated
  and checked rule by rule (cross-validates the MIP).
- :mod:`tests.reference.random_instances`: seeded random tiny instances that make every
  rule bind now and then.
"""
