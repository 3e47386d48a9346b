"""Studies built on solving: sweeps and the smallest fund (budget officers), tomorrow's instance
(advance), benchmarks, seeded instance families, GAP import and model export (researchers)."""
