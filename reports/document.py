"""The report as a document: a list of blocks rendered as Markdown and as self-contained HTML.

Blocks are tuples::

    ("h1" | "h2", text)           a heading; h2 headings (and the tables under them) make the table of contents
    ("p", text)                   a paragraph
    ("list", [text, ...])         a bulleted list
    ("table", Table)              a reports.formatting.Table (its title becomes an h3 heading)
    ("figure", name, caption)     figures/<name>.png shown, figures/<name>.svg linked
    ("details", summary, [block, ...])   folded content (HTML <details>; GitHub renders it in Markdown too)
    ("toc",)                      where the table of contents goes

Text may hold links written as ``[label](target)``: kept in Markdown, turned into ``<a>`` in HTML.
Anchors are GitHub's heading slugs (:func:`slug`), so the same ``#anchor`` works in both.

Two conventions are applied to every table here, not in reports.formatting: a note that repeats the
counting conventions is replaced by a link to the one section that states them
(:data:`CONVENTIONS_TITLE`), and long text cells (the canonical table's "paper error on", say)
become numbered footnotes under their table (:data:`LONG_CELL`; the last column, where long text
squeezes nothing, stays inline).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field, replace

from .formatting import Table
from .reference import CONVENTIONS

__all__ = ["FIGURE_DIR", "CONVENTIONS_TITLE", "LONG_CELL", "slug", "to_markdown", "to_html"]

FIGURE_DIR = "figures"
CONVENTIONS_TITLE = "Counting conventions"
LONG_CELL = 40
"""Text cells longer than this many characters become footnotes (except in a table's last column)."""

_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")


def slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens
    (``"Canonical size vs this run"`` -> ``"canonical-size-vs-this-run"``)."""
    kept = "".join(ch for ch in text.lower().strip()
                   if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


class _Anchors:
    """Unique anchors in document order, GitHub style: the second "x" becomes "x-1"."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        base = slug(text) or "section"
        n = self.seen.get(base, 0)
        self.seen[base] = n + 1
        return base if n == 0 else f"{base}-{n}"


@dataclass
class _Prepared:
    """A table ready to render: the note without the repeated conventions, footnoted cells."""

    table: Table
    anchor: str
    refs: dict[tuple[int, int], int] = field(default_factory=dict)  # (row, col) -> footnote number
    notes: list[tuple[int, str]] = field(default_factory=list)  # (number, text), first use order


_COUNTED = re.compile(r"\b(params|MACs|FLOPs|depth)\b")


def _note(table: Table) -> str:
    """The table's note with the counting conventions replaced by a link to where they are stated
    (the link only when a column holds counts)."""
    note = table.note
    if not note or CONVENTIONS not in note:
        return note
    rest = note.replace(CONVENTIONS, "").strip()
    counts = any(_COUNTED.search(c) for c in table.columns)
    link = f"Counts as defined under [{CONVENTIONS_TITLE}](#{slug(CONVENTIONS_TITLE)})." if counts else ""
    return f"{link} {rest}".strip()


def _prepare(table: Table, anchors: _Anchors, counter: list[int]) -> _Prepared:
    prepared = _Prepared(replace(table, note=_note(table)), anchors(table.title))
    long_cols = {j for j in range(len(table.columns) - 1) if j not in table.right}
    numbers: dict[str, int] = {}
    for i, row in enumerate(table.rows):
        for j in sorted(long_cols):
            text = str(row[j])
            if len(text) <= LONG_CELL:
                continue
            if text not in numbers:
                counter[0] += 1
                numbers[text] = counter[0]
                prepared.notes.append((counter[0], text))
            prepared.refs[(i, j)] = numbers[text]
    return prepared


def _prepare_all(blocks: list[tuple]) -> tuple[dict[int, _Prepared], dict[int, str], list[tuple]]:
    """Anchors for every heading and table (document order), footnotes numbered through the document,
    and the table of contents: (level, text, anchor) of each h2 and of each table outside <details>."""
    anchors, counter = _Anchors(), [0]
    tables: dict[int, _Prepared] = {}
    headings: dict[int, str] = {}
    toc: list[tuple] = []

    def visit(items: list[tuple], folded: bool) -> None:
        for b in items:
            if b[0] in ("h1", "h2"):
                headings[id(b)] = anchors(b[1])
                if b[0] == "h2":
                    toc.append((2, b[1], headings[id(b)]))
            elif b[0] == "table":
                tables[id(b)] = _prepare(b[1], anchors, counter)
                if not folded:
                    toc.append((3, b[1].title, tables[id(b)].anchor))
            elif b[0] == "details":
                visit(b[2], True)

    visit(blocks, False)
    return tables, headings, toc


# -- Markdown ----------------------------------------------------------------------------------------

def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _md_table(p: _Prepared) -> str:
    t = p.table
    lines = [f"### {t.title}", ""]
    if t.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in t.columns) + " |")
        lines.append("|" + "|".join("---:" if i in t.right else "---" for i in range(len(t.columns))) + "|")
        for i, row in enumerate(t.rows):
            cells = [f"[^{p.refs[(i, j)]}]" if (i, j) in p.refs else _md_cell(v) for j, v in enumerate(row)]
            lines.append("| " + " | ".join(cells) + " |")
    else:
        lines.append("_(no rows)_")
    if t.note:
        lines += ["", f"_{t.note}_"]
    if p.notes:
        lines += [""] + [f"[^{n}]: {_md_cell(text)}" for n, text in p.notes]
    return "\n".join(lines) + "\n"


def to_markdown(blocks: list[tuple]) -> str:
    """The document as GitHub Markdown (footnotes, <details>, heading anchors)."""
    tables, _, toc = _prepare_all(blocks)

    def render(items: list[tuple]) -> list[str]:
        out = []
        for b in items:
            kind = b[0]
            if kind in ("h1", "h2"):
                out.append(("# " if kind == "h1" else "## ") + b[1] + "\n")
            elif kind == "p":
                out.append(b[1] + "\n")
            elif kind == "list":
                out.append("\n".join(f"- {item}" for item in b[1]) + "\n")
            elif kind == "table":
                out.append(_md_table(tables[id(b)]))
            elif kind == "figure":
                name, caption = b[1], b[2]
                out.append(f"![{name}]({FIGURE_DIR}/{name}.png)\n\n_{caption}_ ([SVG]({FIGURE_DIR}/{name}.svg))\n")
            elif kind == "details":
                out.append(f"<details><summary>{html.escape(b[1])}</summary>\n")
                out += render(b[2])
                out.append("</details>\n")
            elif kind == "toc":
                out.append("**Contents**\n\n" + "\n".join(
                    ("" if level == 2 else "  ") + f"- [{text}](#{anchor})" for level, text, anchor in toc) + "\n")
        return out

    return "\n".join(render(blocks))


# -- HTML --------------------------------------------------------------------------------------------

CSS = """body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.85em;font-style:italic}figure{margin:1.5em 0}img{max-width:100%}
figcaption{color:#444;font-size:.9em}nav.toc{background:#f7f7f7;border:1px solid #ddd;padding:.3em 1em;
display:inline-block}nav.toc ul{margin:.2em 0;padding-left:1.2em}ol.footnotes{font-size:.85em;color:#444;
margin:.2em 0 1em}sup a{text-decoration:none}details{margin:.4em 0}summary{cursor:pointer;font-weight:600}"""


def _inline(text: str) -> str:
    """Escaped text with ``[label](target)`` links as <a> elements."""
    return _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', html.escape(text, quote=False))


def _html_table(p: _Prepared, heading: bool = True) -> str:
    e = html.escape
    t = p.table
    out = [f'<h3 id="{p.anchor}">{e(t.title)}</h3>'] if heading else []
    if t.rows:
        out.append("<table>" if heading else f'<table id="{p.anchor}">')
        out.append("<thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in t.columns) + "</tr></thead><tbody>")
        first_use: set[int] = set()
        for i, row in enumerate(t.rows):
            cells = []
            for j, v in enumerate(row):
                if (i, j) in p.refs:
                    n = p.refs[(i, j)]
                    back = f' id="fnref-{n}"' if n not in first_use else ""
                    first_use.add(n)
                    inner = f'<sup><a href="#fn-{n}"{back}>[{n}]</a></sup>'
                else:
                    inner = e(str(v))
                cells.append(f'<td class="num">{inner}</td>' if j in t.right else f"<td>{inner}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p><em>(no rows)</em></p>")
    if t.note:
        out.append(f'<p class="note">{_inline(t.note)}</p>')
    if p.notes:
        out.append('<ol class="footnotes">' + "".join(
            f'<li id="fn-{n}" value="{n}">{e(text)} <a href="#fnref-{n}" aria-label="back">&#8617;</a></li>'
            for n, text in p.notes) + "</ol>")
    return "\n".join(out) + "\n"


def to_html(blocks: list[tuple], title: str) -> str:
    """The document as one HTML page (inline CSS, no script; figures are relative links)."""
    e = html.escape
    tables, headings, toc = _prepare_all(blocks)

    def render(items: list[tuple], folded: bool = False) -> list[str]:
        out = []
        for b in items:
            kind = b[0]
            if kind in ("h1", "h2"):
                out.append(f'<{kind} id="{headings[id(b)]}">{e(b[1])}</{kind}>')
            elif kind == "p":
                out.append(f"<p>{_inline(b[1])}</p>")
            elif kind == "list":
                out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in b[1]) + "</ul>")
            elif kind == "table":
                out.append(_html_table(tables[id(b)], heading=not folded))
            elif kind == "figure":
                name, caption = e(b[1]), _inline(b[2])
                out.append(f'<figure id="figure-{name}"><img src="{FIGURE_DIR}/{name}.png" alt="{name}">'
                           f'<figcaption>{caption} (<a href="{FIGURE_DIR}/{name}.svg">SVG</a>)</figcaption></figure>')
            elif kind == "details":
                out.append(f"<details><summary>{e(b[1])}</summary>")
                out += render(b[2], folded=True)
                out.append("</details>")
            elif kind == "toc":
                lines, depth = ['<nav class="toc"><strong>Contents</strong><ul>'], 2
                for level, text, anchor in toc:
                    if level > depth:
                        lines[-1] = lines[-1].removesuffix("</li>") + "<ul>"
                    elif level < depth:
                        lines.append("</ul></li>")
                    depth = level
                    lines.append(f'<li><a href="#{anchor}">{e(text)}</a></li>')
                lines.append("</ul></li></ul></nav>" if depth == 3 else "</ul></nav>")
                out.append("".join(lines))
        return out

    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',  # no favicon request (a served page would log a 404)
            f"<title>{e(title)}</title>", f"<style>{CSS}</style></head><body>"]
    return "\n".join(head + render(blocks) + ["</body></html>"]) + "\n"
