"""The instance: its type, the format as data, reading and validation, screening (R1-R4), writing.

``read_instance(folder) -> Instance`` (:mod:`allocator.instance.reading`) reads and validates a
folder; ``screen(instance) -> Screen`` (:mod:`allocator.instance.screening`) keeps the
(demand, pool) pairs that R1-R4 allow and the reason of every demand that has none.
"""
