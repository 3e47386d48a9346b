"""Markdown for people and for viewers that render it as HTML: one table writer, text escaped.

Names come from user files (instance names, programme and enterprise ids): a ``<script>`` there
must stay text, and a ``|`` must not break a table.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def md_text(value: object) -> str:
    """Text safe in Markdown rendered as HTML: &, <, > as entities, | escaped, no line breaks."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; every cell (and header) escaped with :func:`md_text`."""
    lines = ["| " + " | ".join(md_text(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_frame(df: pd.DataFrame, formats: dict[str, object] | None = None) -> str:
    """A DataFrame as a Markdown table, columns formatted by ``formats`` (column -> function)."""
    formats = formats or {}
    rows = [[formats[c](v) if c in formats else v for c, v in zip(df.columns, record)]
            for record in df.itertuples(index=False)]
    return md_table([str(c) for c in df.columns], rows)
