"""A year of daily plans over annual funds: ``allocator year`` (shared/SPEC.md, "A year of daily plans").

The day loop (:mod:`allocator.studies.year.run`) takes the state on day 0 (an instance folder) and a
file of arrivals (:mod:`allocator.studies.year.arrivals`); every morning a pacing policy
(:mod:`allocator.studies.year.policies`) releases part of what is left of each fund, that day's
instance is written to ``days/NNN/instance``, solved by ``solve``'s default method into
``days/NNN/plan``, and the ledger (:mod:`allocator.studies.year.ledger`, SQLite) moves on as
``allocator advance`` does, one transaction per day. :mod:`allocator.studies.year.hindsight` bounds
what any policy could serve knowing every arrival; :mod:`allocator.studies.year.outputs` writes
days.csv, requests.csv and summary.json; :mod:`allocator.studies.year.charts` the PNG charts and the
HTML page; :mod:`allocator.studies.year.compare` runs several policies side by side;
:mod:`allocator.studies.year.arrivals_family` generates a seasonal year (``allocator generate year``).

Names: ``t`` a day (0-based), ``N`` the days of the year, ``g`` a programme (fund), ``e`` an
enterprise, ``r`` a request (a demand row that arrives on a day). Money in the ledger is in
integer fen (1 yuan = 100 fen) so that sums are exact; tables written for people are in yuan.
docs/year.md explains the policies, the bound and the ledger schema.
"""
