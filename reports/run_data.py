"""What a report is made from: a run's trials and the tables, curves, rankings and trained models
derived from them, each computed once on first use (:class:`ReportData`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from compare.store import STORE_NAME

from . import ranking, tables

__all__ = ["ReportData"]


@dataclass
class ReportData:
    """Everything the report is made from, derived once from the run's trials."""

    run_dir: Path
    trials: pd.DataFrame
    bench: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The run's ``python -m compare bench`` rows (study 'bench'), kept out of ``trials`` when the
    run also has training trials."""

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)

    @cached_property
    def results(self) -> pd.DataFrame:
        return tables.tidy(self.trials)

    @cached_property
    def predictions(self) -> dict:
        """Trial id -> (test predictions, labels), as the store keeps them (empty for older stores)."""
        return ranking.load_predictions(self.run_dir) if (self.run_dir / STORE_NAME).is_file() else {}

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Trained models aggregated over seeds (the pretrained-weights evaluations are apart), ranked
        with ties (:func:`reports.ranking.rank`)."""
        trained = self.results[self.results["study"] != tables.EVAL_STUDY]
        return ranking.rank(tables.summarize(trained), trained, self.predictions)

    @cached_property
    def evaluations(self) -> pd.DataFrame:
        return tables.evaluations(self.results)

    @cached_property
    def main(self) -> pd.DataFrame:
        """Summary rows of the main study (all rows when the run has no 'main' study)."""
        main = self.summary[self.summary["study"] == "main"]
        return main if not main.empty else self.summary

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Training histories of the main study (all studies when the run has no 'main' study)."""
        every = tables.curves(self.trials)
        main = every[every["study"] == "main"]
        return main if not main.empty else every

    @cached_property
    def canonical(self) -> pd.DataFrame:
        return tables.canonical(self.main)

    @cached_property
    def failures(self) -> pd.DataFrame:
        return tables.failures(self.results)

    @cached_property
    def models(self) -> dict[str, tuple[int, Any]]:
        """Model name -> (trial id, trained Keras model) of its best trial (lowest validation error)
        whose model file exists; loaded on first use."""
        from .filters import load_trained_model

        if "weights_path" not in self.results.columns:  # no trained model in the run (e.g. evaluations only)
            return {}
        done = self.results[(self.results["status"] == "done") & self.results["weights_path"].notna()]
        out: dict[str, tuple[int, Any]] = {}
        # the model's best trial is chosen on validation error (test error only where none was kept)
        order = [c for c in ("val_err", "top1_err", "id") if c in done.columns]
        for model, group in done.sort_values(order, na_position="last").groupby("model", sort=False):
            best = group.iloc[0]
            try:
                out[model] = (int(best["id"]), load_trained_model(self.run_dir, best["weights_path"]))
            except FileNotFoundError:
                continue
        return out

    def trial(self, trial_id: int) -> pd.Series:
        return self.trials[self.trials["id"] == trial_id].iloc[0]
