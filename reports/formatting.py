"""Formatted tables: :class:`Table` (title, header, rows of strings, note) rendered as Markdown or
HTML by reports.document; :func:`display` makes one from a DataFrame of reports.tables with a
column spec (source column, header, kind, digits); the cell formatters; per-layer profile tables.
Errors are fractions 0-1 in the DataFrames and percent in the displays."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pandas as pd

from common.text import shape_text

from .reference import CONVENTIONS

__all__ = ["Table", "Column", "display", "split_by", "profile_table", "fmt_int", "fmt_num", "fmt_text",
           "COMPARISON_COLUMNS", "CANONICAL_COLUMNS", "EVAL_COLUMNS", "FAILURE_COLUMNS", "PROFILE_NOTE"]


@dataclass
class Table:
    """A formatted table: header, rows of strings, right-aligned columns, and a note under it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = CONVENTIONS
    right: set[int] = field(default_factory=set)

    def to_markdown(self) -> str:
        def cell(s: str) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")

        lines = [f"### {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(cell(c) for c in self.columns) + " |")
            lines.append("|" + "|".join("---:" if i in self.right else "---" for i in range(len(self.columns))) + "|")
            lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        else:
            lines.append("_(no rows)_")
        if self.note:
            lines += ["", f"_{self.note}_"]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        e = html.escape
        out = [f"<h3>{e(self.title)}</h3>"]
        if self.rows:
            out.append("<table>")
            out.append("<thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in self.columns) + "</tr></thead><tbody>")
            for row in self.rows:
                out.append("<tr>" + "".join(
                    f'<td class="num">{e(str(v))}</td>' if i in self.right else f"<td>{e(str(v))}</td>"
                    for i, v in enumerate(row)) + "</tr>")
            out.append("</tbody></table>")
        else:
            out.append("<p><em>(no rows)</em></p>")
        if self.note:
            out.append(f'<p class="note">{e(self.note)}</p>')
        return "\n".join(out) + "\n"


def shape_cell(value: Any) -> Any:
    """A shape (list or tuple) as :func:`common.text.shape_text` writes it; other values unchanged."""
    return shape_text(value) if isinstance(value, (list, tuple)) else value


def missing(v: Any) -> bool:
    """None, pandas' NA or a float NaN."""
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def fmt_int(v: Any) -> str:
    """``61706`` -> ``"61,706"``; empty for missing values."""
    return "" if missing(v) else f"{int(round(float(v))):,}"


def fmt_num(v: Any, std: Any = None, digits: int = 2, scale: float = 1.0) -> str:
    """A number with ``digits`` decimals, ``" ± std"`` when a std is given (several seeds)."""
    if missing(v):
        return ""
    text = f"{float(v) * scale:,.{digits}f}"
    if not missing(std):
        text += f" ± {float(std) * scale:,.{digits}f}"
    return text


def fmt_text(v: Any) -> str:
    if missing(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# (column, header, kind, digits): kind int = exact count, pct = fraction shown as %, num = decimal, text
Column = tuple[str, str, str, int]

COMPARISON_COLUMNS: tuple[Column, ...] = (
    ("rank", "rank", "rank", 0),
    ("model", "model", "text", 0), ("width", "width", "text", 0), ("input_shape", "input", "text", 0),
    ("epochs", "epochs", "text", 0), ("batch_size", "batch", "text", 0), ("lr", "lr", "text", 0),
    ("optimizer", "optimizer", "text", 0), ("schedule", "schedule", "text", 0), ("augment", "augment", "text", 0),
    ("recipe", "recipe", "text", 0),
    ("seeds", "seeds", "int", 0), ("n_train", "train / val / test images", "split", 0),
    ("params", "params", "int", 0), ("non_trainable", "non-trainable", "int", 0),
    ("macs", "MACs", "int", 0), ("depth", "depth", "int", 0), ("val_err", "val err (%)", "pct", 2),
    ("top1_err", "top-1 test err (%)", "pct", 2), ("top1_err_lo", "95% CI (%)", "ci", 2),
    ("top1_err_seed_lo", "95% CI over seeds (%)", "seedci", 2), ("p_vs_best", "McNemar p vs best (Holm)", "p", 3),
    ("top5_err", "top-5 err (%)", "pct", 2),
    ("train_s", "train (s)", "num", 1), ("train_img_per_s", "train (img/s)", "num", 0),
    ("infer_ms_b1", "infer b1 (ms/img)", "num", 2), ("infer_ms_b32", "infer b32 (ms/img)", "num", 2),
)

CANONICAL_COLUMNS: tuple[Column, ...] = (
    ("model", "model", "text", 0), ("year", "year", "text", 0), ("card_input_shape", "card input", "text", 0),
    ("card_params", "card params", "int", 0), ("card_macs", "card MACs", "int", 0),
    ("card_depth", "card depth", "int", 0), ("card_top1_err", "paper top-1 err (%)", "num", 2),
    ("card_top5_err", "paper top-5 err (%)", "num", 2), ("card_err_dataset", "paper error on", "text", 0),
    ("input_shape", "run input", "text", 0), ("width", "run width", "text", 0),
    ("params", "run params", "int", 0), ("macs", "run MACs", "int", 0), ("depth", "run depth", "int", 0),
    ("top1_err", "run top-1 err (%)", "pct", 2), ("top1_err_lo", "run 95% CI (%)", "ci", 2),
    ("dataset", "run dataset", "text", 0),
)

EVAL_COLUMNS: tuple[Column, ...] = (
    ("model", "model", "text", 0), ("source", "source", "text", 0), ("n_images", "images", "int", 0),
    ("unreadable", "unreadable (left out)", "int", 0), ("n_classes", "classes", "int", 0),
    ("top1_acc", "measured top-1 (%)", "pct", 2),
    ("top1_acc_lo", "top-1 95% CI (%)", "ci", 2), ("top5_acc", "measured top-5 (%)", "pct", 2),
    ("top5_acc_lo", "top-5 95% CI (%)", "ci", 2), ("published_top1_acc", "published top-1 (%)", "pct", 2),
    ("published_top5_acc", "published top-5 (%)", "pct", 2),
)

FAILURE_COLUMNS: tuple[Column, ...] = (
    ("id", "trial", "text", 0), ("model", "model", "text", 0), ("dataset", "dataset", "text", 0),
    ("mode", "mode", "text", 0), ("dtype", "dtype", "text", 0), ("batch_size", "batch", "int", 0),
    ("seed", "seed", "text", 0), ("status", "status", "text", 0), ("reason", "reason", "text", 0),
)


def display(df: pd.DataFrame, columns: Sequence[Column], title: str, note: str = CONVENTIONS) -> Table:
    """Format ``df`` into a :class:`Table`: counts exact with separators, errors in percent, and
    ``mean ± std`` wherever a ``<column>_std`` value is present (several seeds). Columns absent from
    ``df`` or empty in every row are left out."""
    present = [c for c in columns if c[0] in df.columns and df[c[0]].map(lambda v: not missing(v)).any()]
    rows = []
    for _, r in df.iterrows():
        row = []
        for col, _header, kind, digits in present:
            v, std = r[col], r.get(f"{col}_std")
            if kind == "int":
                row.append(fmt_int(v))
            elif kind == "rank":
                shared = True in (r.get("tied_with_best"), r.get("shares_rank"))
                row.append("" if missing(v) else f"{int(v)}" + ("=" if shared else ""))
            elif kind == "split":
                row.append(" / ".join(fmt_int(r.get(c)) or "?" for c in ("n_train", "n_val", "n_test")))
            elif kind in ("ci", "seedci"):  # the low bound's column; the high one is named ..._hi
                hi = r.get(col[: -len("_lo")] + "_hi")
                row.append("" if missing(v) or missing(hi) else f"{float(v) * 100:.{digits}f}–{float(hi) * 100:.{digits}f}")
            elif kind == "p":
                row.append("" if missing(v) else ("< 0.001" if float(v) < 0.001 else f"{float(v):.{digits}f}"))
            elif kind == "pct":
                row.append(fmt_num(v, std, digits, scale=100.0))
            elif kind == "num":
                row.append(fmt_num(v, std, digits))
            else:
                row.append(fmt_text(v))
        rows.append(row)
    right = {i for i, c in enumerate(present) if c[2] != "text"}
    return Table(title, [c[1] for c in present], rows, note, right)


def split_by(df: pd.DataFrame, keys: Iterable[str]) -> list[tuple[tuple, pd.DataFrame]]:
    """``df`` split by ``keys`` in first-seen order (missing keys count as one group)."""
    keys = [k for k in keys if k in df.columns]
    if not keys or df.empty:
        return [((), df)] if not df.empty else []
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in df.groupby(keys, sort=False, dropna=False)]


# -- per-layer profile -----------------------------------------------------------------------------

PROFILE_COLUMNS: tuple[Column, ...] = (
    ("name", "layer", "text", 0), ("type", "type", "text", 0), ("output_shape", "output shape", "text", 0),
    ("trainable", "params", "int", 0), ("non_trainable", "non-trainable", "int", 0),
    ("macs", "MACs", "int", 0), ("flops", "FLOPs", "int", 0), ("all_ops", "other ops (not MACs)", "int", 0),
    ("act_elems", "activations", "int", 0), ("rf", "receptive field (px)", "int", 0),
)


#: What a per-layer profile's own columns count (the report states it once, above its profiles).
PROFILE_NOTE = ("Other ops (bias, BatchNorm, activations, pooling, add, concat) are counted apart and never mixed "
                "into MACs; activations = output elements per image.")


def profile_table(model, title: str, note: bool = True) -> Table:
    """The per-layer profile of ``model`` (``compare.profile``) as a :class:`Table` with a totals row;
    its note states :data:`PROFILE_NOTE` unless ``note`` is False (said once above several)."""
    import compare.profile as profiler

    df = profiler.profile(model).copy()
    df["output_shape"] = df["output_shape"].map(shape_cell)
    counted = ["trainable", "non_trainable", "macs", "flops", "all_ops", "act_elems"]
    total = {c: df[c].sum() for c in counted}
    return display(pd.concat([df, pd.DataFrame([{"name": "total", **total}])], ignore_index=True),
                   PROFILE_COLUMNS, title, CONVENTIONS + (" " + PROFILE_NOTE if note else ""))
