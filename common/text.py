"""Plain-text formatting shared by the command lines and reports: one number formatter for counts
(:func:`human_count`), one for shapes (:func:`shape_text`) and one plain-text table formatter
(:func:`text_table`).

Pure Python (no numpy, no pandas): cheap to import anywhere.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

__all__ = ["human_count", "shape_text", "text_table", "counted"]

_UNITS = ("", "K", "M", "G", "T", "P", "E")


def counted(n: int, word: str) -> str:
    """``counted(1, "model")`` -> ``"1 model"``, ``counted(7, "model")`` -> ``"7 models"`` (plural
    by a final s)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def shape_text(shape: Sequence[Any]) -> str:
    """``(32, 32, 3)`` -> ``"32x32x3"``; an unknown dimension (None) is ``?``; the shapes of a
    layer with several outputs are joined by ``", "``; ``()`` -> ``""``."""
    if shape and isinstance(shape[0], (tuple, list)):
        return ", ".join(shape_text(s) for s in shape)
    return "x".join("?" if d is None else str(int(d)) for d in shape)


def human_count(n: Any, digits: int = 3) -> str:
    """A count in the unit that fits, to ``digits`` significant digits.

    ``760 -> "760"``, ``44_040 -> "44.0 K"``, ``416_520 -> "417 K"``, ``40_551_040 -> "40.6 M"``,
    ``1_581_000_000 -> "1.58 G"``, ``999_999 -> "1.00 M"``; integers below 1,000 stay exact;
    ``""`` for None or NaN. Units: K = 1e3, M = 1e6, G = 1e9, T = 1e12, P, E.
    """
    if n is None:
        return ""
    v = float(n)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    sign, v = ("-" if v < 0 else ""), abs(v)
    if v < 1000 and v.is_integer():
        return f"{sign}{int(v)}"
    i = 0
    while i < len(_UNITS) - 1 and v >= 1000:
        v, i = v / 1000, i + 1
    text = _significant(v, digits)
    if float(text) >= 1000 and i < len(_UNITS) - 1:  # 999.96 K rounds to 1000: say 1.00 M
        v, i = v / 1000, i + 1
        text = _significant(v, digits)
    return f"{sign}{text} {_UNITS[i]}" if _UNITS[i] else f"{sign}{text}"


def _significant(v: float, digits: int) -> str:
    """``v`` (0 <= v < 1000) with ``digits`` significant digits, keeping trailing zeros."""
    whole = len(str(int(round(v)))) if v >= 1 else 1
    return f"{v:.{max(0, digits - whole)}f}"


def _number(cell: str) -> bool | None:
    """True for a numeric cell ("61,706", "4.1%", "44.0 K", "-3"), None for an empty one ("", "-")."""
    s = cell.strip()
    if s in ("", "-"):
        return None
    s = s.replace(",", "").removesuffix("%")
    for unit in _UNITS[1:]:
        s = s.removesuffix(f" {unit}")
    try:
        float(s)
    except ValueError:
        return False
    return True


def text_table(head: Sequence[Any], rows: Iterable[Sequence[Any]], *, footer: Iterable[Sequence[Any]] = (),
               right: Iterable[int] | None = None, gap: int = 2) -> list[str]:
    """Lines of a plain-text table: the header, a rule, the rows, and (if any) a rule and the
    ``footer`` rows (totals). Numeric columns are right-aligned, the others left-aligned.

    ``right``: the indices of the right-aligned columns; by default every column whose non-empty
    cells (header excluded; "" and "-" count as empty) are all numbers such as ``61,706``,
    ``4.1%`` or ``44.0 K``. Cells are converted with ``str``; trailing blanks are stripped.
    """
    head = [str(c) for c in head]
    body = [[str(c) for c in r] for r in rows]
    foot = [[str(c) for c in r] for r in footer]
    every = [head, *body, *foot]
    for r in every:
        if len(r) != len(head):
            raise ValueError(f"a table row has {len(r)} cells but the header has {len(head)}: {r!r}")
    widths = [max(len(r[i]) for r in every) for i in range(len(head))]
    if right is None:
        right = set()
        for i in range(len(head)):
            kinds = {_number(r[i]) for r in (*body, *foot)} - {None}
            if kinds == {True}:
                right.add(i)
    right = set(right)
    sep = " " * gap

    def line(cells: list[str]) -> str:
        return sep.join(c.rjust(w) if i in right else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * (sum(widths) + gap * (len(widths) - 1))
    out = [line(head), rule, *(line(r) for r in body)]
    if foot:
        out += [rule, *(line(r) for r in foot)]
    return out
