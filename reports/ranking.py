"""Which differences a run's numbers support: the ranking with ties, and budgets that differ.

:func:`rank` compares every model with the lowest-error one by McNemar's test on the test
predictions the store keeps, Holm-adjusted for the number of comparisons (:mod:`compare.stats`); :func:`budget_note` says when compared rows
were trained with different budgets. Both return plain values; reports.run_data and reports.render put them in the report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .formatting import fmt_text, split_by
from .tables import BUDGET_COLUMNS

__all__ = ["SIGNIFICANCE", "load_predictions", "rank", "budget_note"]

SIGNIFICANCE = 0.05


def load_predictions(run_dir: str | Path) -> dict:
    """``{trial id: (pred, label)}``: the test predictions the run stored (empty for a store written
    before they were kept)."""
    from compare.store import Store, run_store

    with Store(run_store(run_dir)) as store:
        return store.predictions()


def rank(summary: pd.DataFrame, results: pd.DataFrame, predictions: dict) -> pd.DataFrame:
    """``summary`` with a ranking that shows ties as ties, per (study, dataset).

    The row with the lowest mean top-1 error is the best. Every other row is compared with it by
    McNemar's test (:func:`compare.stats.mcnemar`) on the stored test predictions of the seeds
    both ran (same test images, same labels); with several common seeds the largest p-value is
    kept (a difference counts only if it is significant at every seed, in the best's favour: a seed
    where the row has fewer mistakes than the best on their discordant images gives p = 1). The group's p-values are
    then Holm-adjusted (:func:`compare.stats.holm`): with k rows compared with the best, the chance
    that any of them is called different by luck stays at most 0.05. Added columns:
    ``p_vs_best_raw`` (NaN for the best, and where no paired predictions exist), ``p_vs_best`` (the
    same, Holm-adjusted), ``tied_with_best`` (adjusted p >= 0.05, or the best itself when another
    row ties with it), ``rank``: 1 for the best and every row tied with it, else the row's position
    in the error order, shared by rows with the same error (competition ranking: 1, 2, 2, 4), and
    ``shares_rank``: True where another row of the group has the same rank. Rows below rank 1 are
    not tested against each other: their ranks order them by error only.
    """
    from compare.stats import discordant, holm, mcnemar

    out = summary.copy()
    out["p_vs_best"] = float("nan")
    out["p_vs_best_raw"] = float("nan")
    out["tied_with_best"] = False
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["shares_rank"] = False
    if out.empty or "ids" not in out.columns:
        return out
    seed_of = dict(zip(results["id"].astype(int), results["seed"]))
    for _, group in split_by(out, ["study", "dataset"]):
        order = group.sort_values("top1_err", na_position="last").index.tolist()
        best = order[0]
        best_runs = {seed_of.get(t): predictions[t] for t in out.at[best, "ids"] if t in predictions}
        raw: dict = {}  # row -> its largest p over the common seeds
        first_at: dict[float, int] = {}  # an error -> the position of its first row (rows sharing it share it)
        for pos, i in enumerate(order, start=1):
            out.at[i, "rank"] = first_at.setdefault(round(float(group.at[i, "top1_err"]), 12), pos)
            if i == best:
                continue
            ps = []
            for t in out.at[i, "ids"]:
                other = predictions.get(t)
                mine = best_runs.get(seed_of.get(t))
                if other is None or mine is None or len(other[1]) != len(mine[1]) or (other[1] != mine[1]).any():
                    continue  # not the same test images: no paired test
                b, c = discordant(mine[0] == mine[1], other[0] == other[1])
                # two-sided test; a seed where this row beat the best counts against any difference
                ps.append(mcnemar(b, c).p_value if b > c else 1.0)
            if ps:
                raw[i] = max(ps)
        ties = 0
        for i, p in zip(raw, holm(list(raw.values()))):
            out.at[i, "p_vs_best_raw"], out.at[i, "p_vs_best"] = raw[i], p
            if p >= SIGNIFICANCE:
                out.at[i, "tied_with_best"] = True
                out.at[i, "rank"] = 1
                ties += 1
        out.at[best, "rank"] = 1
        out.at[best, "tied_with_best"] = ties > 0
        ranks = out.loc[group.index, "rank"]
        out.loc[group.index, "shares_rank"] = ranks.duplicated(keep=False) & ranks.notna()
    return out


#: What a row was trained with besides the architecture: its input and width, then its budget.
SETUP_COLUMNS: tuple[str, ...] = ("input_shape", "width", *BUDGET_COLUMNS)


def budget_note(group: pd.DataFrame) -> str | None:
    """A sentence naming the set-up columns (:data:`SETUP_COLUMNS`: input shape, width and the
    training budget) whose values differ across the rows of ``group`` (and the values), or None
    when every row was trained alike."""
    differ = []
    for col in SETUP_COLUMNS:
        if col in group.columns:
            values = [fmt_text(v) or "default" for v in group[col]]
            if len(set(values)) > 1:
                differ.append(f"{col.replace('_', ' ')} ({', '.join(dict.fromkeys(values))})")
    if not differ:
        return None
    return ("Set-ups differ across these rows (input, width, training budget): " + "; ".join(differ) + ". An error "
            "difference between such rows mixes the architecture with its input, width and training budget.")
