"""Point labels that do not overlap: a small repel step for the report's scatter plots."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.axes import Axes

_CANDIDATES = ((1, 0), (1, 1), (1, -1), (-1, 0), (-1, 1), (-1, -1), (0, 1), (0, -1))  # E NE SE W NW SW N S
RINGS = 6  # rings of candidate places, each half a label width / one label height further out


def _overlap_area(c: np.ndarray, h: np.ndarray, centres: np.ndarray, halves: np.ndarray) -> float:
    """Total overlap area of box (c, h) with the boxes (centres, halves)."""
    if len(centres) == 0:
        return 0.0
    o = np.clip(h + halves - np.abs(centres - c), 0, None)
    return float((o[:, 0] * o[:, 1]).sum())


def repel(anchors: np.ndarray, sizes: np.ndarray, bounds: tuple[float, float, float, float],
          obstacles: np.ndarray | None = None, radii: np.ndarray | float = 6.0, pad: float = 3.0,
          iterations: int = 300, rings: int = RINGS) -> np.ndarray:
    """Centres for label boxes near their anchors with no box overlapping another, a marker, or
    the ``bounds`` edge (all in pixels).

    ``anchors`` (n, 2) are the labelled points, ``sizes`` (n, 2) the boxes' width and height,
    ``bounds`` (x0, y0, x1, y1) the area the boxes must stay in, ``obstacles`` (m, 2) more points a
    box must not cover, ``radii`` the half-size of each anchor's marker (a bubble).

    Two steps. Greedy: each box takes the first of eight places around its point (right,
    upper right, lower right, left, ..., below), tried on ``rings`` rings further and further
    out, that collides with nothing placed so far, or the least-colliding one. Repel: while anything still overlaps, push each overlapping pair apart
    along the axis of least overlap and push boxes off covered markers, clamped to ``bounds``.
    Returns the (n, 2) centres.
    """
    anchors = np.asarray(anchors, float).reshape(-1, 2)
    sizes = np.asarray(sizes, float).reshape(-1, 2)
    extra = np.zeros((0, 2)) if obstacles is None else np.asarray(obstacles, float).reshape(-1, 2)
    n = len(anchors)
    points = np.vstack([anchors, extra])
    reach = np.concatenate([np.broadcast_to(np.asarray(radii, float), (n,)), np.full(len(extra), 6.0)])
    reach = np.repeat(reach[:, None], 2, axis=1)
    half = sizes / 2 + pad / 2
    lo_b, hi_b = np.array(bounds[:2], float), np.array(bounds[2:], float)
    lo, hi = lo_b + half, np.maximum(hi_b - half, lo_b + half)

    centres = np.empty_like(anchors)
    for i in range(n):
        best, best_cost = None, np.inf
        for ring, direction in ((r, d) for r in range(rings) for d in _CANDIDATES):
            step = half[i] + reach[i] + 1.0 + ring * np.array([half[i, 0], 2 * half[i, 1]])
            c = anchors[i] + np.array(direction) * step
            outside = float(np.clip(lo[i] - c, 0, None).sum() + np.clip(c - hi[i], 0, None).sum())
            cost = (_overlap_area(c, half[i], centres[:i], half[:i]) + _overlap_area(c, half[i], points, reach)
                    + outside * 100)
            if cost < best_cost:
                best, best_cost = c, cost
            if cost == 0:
                break
        centres[i] = best

    for it in range(iterations):
        moved = False
        for i in range(n):
            for j in range(i + 1, n):
                d = centres[j] - centres[i]
                overlap = half[i] + half[j] - np.abs(d)
                if (overlap > 0).all():
                    axis = int(np.argmin(overlap))
                    sign = np.sign(d[axis]) or (1.0 if (i + it) % 2 else -1.0)
                    centres[i, axis] -= sign * (overlap[axis] / 2 + 0.5)
                    centres[j, axis] += sign * (overlap[axis] / 2 + 0.5)
                    moved = True
            d = points - centres[i]
            overlap = half[i] + reach - np.abs(d)
            for k in np.flatnonzero((overlap > 0).all(axis=1)):
                axis = int(np.argmin(overlap[k]))
                sign = np.sign(d[k, axis]) or 1.0
                centres[i, axis] -= sign * (overlap[k, axis] + 0.5)
                moved = True
        np.clip(centres, lo, hi, out=centres)
        if not moved:
            break
    return centres


def label_points(ax: Axes, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str],
                 fontsize: float = 8, obstacles: Sequence[tuple[float, float]] = (),
                 radii: Sequence[float] | float = 6.0, rings: int = RINGS) -> list:
    """Annotate data points with non-overlapping labels (via :func:`repel`), with a leader line
    when a label ends up away from its point. ``radii`` are the markers' radii in pixels (labels
    keep off them); ``rings`` how far out a label may be placed (see :func:`repel`). Call after
    limits and layout are final."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    texts = [ax.annotate(str(t), (x, y), xytext=(0, 0), textcoords="offset points", fontsize=fontsize,
                         ha="center", va="center", zorder=5) for x, y, t in zip(xs, ys, labels)]
    if not texts:
        return texts
    anchors = ax.transData.transform(np.column_stack([xs, ys]).astype(float))
    sizes = np.array([[b.width, b.height] for b in (t.get_window_extent(renderer) for t in texts)])
    box = ax.get_window_extent(renderer)
    extra = ax.transData.transform(np.asarray(obstacles, float).reshape(-1, 2)) if len(obstacles) else None
    radii = np.broadcast_to(np.asarray(radii, float), (len(texts),))
    centres = repel(anchors, sizes, (box.x0, box.y0, box.x1, box.y1), extra, radii=radii, rings=rings)
    scale = 72.0 / fig.dpi
    placed = []
    for t, x, y, a, c, s, r in zip(texts, xs, ys, anchors, centres, sizes, radii):
        t.remove()  # measured only; redrawn at its place, with a leader line if far from its point
        gap = np.maximum(np.abs(c - a) - s / 2, 0)  # from the point to the nearest edge of its label
        far = np.hypot(*gap) > r + 8  # beyond the marker's edge
        placed.append(ax.annotate(t.get_text(), (x, y), xytext=tuple((c - a) * scale), textcoords="offset points",
                                  fontsize=fontsize, ha="center", va="center", zorder=5,
                                  arrowprops=dict(arrowstyle="-", color="0.5", lw=0.6, shrinkA=0, shrinkB=r * scale)
                                  if far else None))
    return placed
