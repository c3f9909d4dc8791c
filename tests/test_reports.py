"""reports: a report built from a tiny real run (tests/_report_fixture.py), its files, tables,
figures and links, the CLI contract for bad input, and the label-repel step."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import _report_fixture as fixture  # noqa: E402
from _independent import recount  # noqa: E402

from reports.__main__ import main  # noqa: E402
from common.cli import run_main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIGURE_NAMES = ["error_vs_macs", "error_vs_depth", "training_accuracy", "training_loss", "size",
                "filters", "activations"]  # no alexnet or zfnet in the run: no figure of their own filters
# lenet5 at width 0.5 on 32x32x1 with 8 classes: conv 3@5x5, conv 8@5x5, dense 60, 42, 8
# the runner feeds lenet5 grey images (its card wants 1 channel): c1 reads 1 map
LENET_HALF_PARAMS = (5 * 5 * 1 * 3 + 3) + (5 * 5 * 3 * 8 + 8) + (200 * 60 + 60) + (60 * 42 + 42) + (42 * 8 + 8)
LENET_HALF_MACS = 28 * 28 * 3 * 25 + 10 * 10 * 8 * 75 + 200 * 60 + 60 * 42 + 42 * 8


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_main(main, argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """The tiny run, reported once through the CLI."""
    out = fixture.make_run(tmp_path_factory.mktemp("run"))
    code, stdout, stderr = _cli([str(out)])
    return dict(dir=out, code=code, stdout=stdout, stderr=stderr, md=(out / "report.md").read_text(),
                html=(out / "report.html").read_text())


@pytest.fixture(scope="module")
def recounted(run) -> dict:
    """Trial id -> the mistakes of its saved model, counted apart from the store (tests/_independent.py)."""
    from compare.store import Store

    with Store(run["dir"] / "results.sqlite") as store:
        done = store.trials("done")
    return {int(row["id"]): recount(run["dir"], row) for _, row in done.iterrows()}


def _md_table(md: str, title_start: str) -> pd.DataFrame:
    """The Markdown table under the heading that starts with ``title_start``."""
    block = md.split(f"### {title_start}", 1)[1].split("\n### ", 1)[0]
    lines = [l for l in block.splitlines() if l.startswith("|")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", l)[1:-1]] for l in lines]
    return pd.DataFrame(cells[2:], columns=cells[0])


def _best_lenet(run) -> int:
    """The lenet5 trial the report profiles: the lower validation error of trials 1 and 2 (then the
    lower test error, then the lower id)."""
    csv = pd.read_csv(run["dir"] / "results.csv").set_index("id")
    return min((1, 2), key=lambda t: (csv.loc[t, "val_err"], csv.loc[t, "top1_err"], t))


# -- the report of a real run ------------------------------------------------------------------------

def test_cli_writes_report_and_one_line_summary(run):
    assert run["code"] == 0, run["stderr"]
    assert run["stdout"].count("\n") == 1
    assert run["stdout"] == f"report: {run['dir'] / 'report.md'}, report.html, 7 figures (2 models, 1 failed)\n"
    for name in ("report.md", "report.html", "results.csv", "results.json"):
        assert (run["dir"] / name).stat().st_size > 0


def test_results_csv_and_json_are_tidy(run, recounted):
    csv = pd.read_csv(run["dir"] / "results.csv")
    records = json.loads((run["dir"] / "results.json").read_text())
    assert len(csv) == len(records) == 4 and csv["id"].tolist() == [1, 2, 3, 4]
    for col in ("model", "dataset", "seed", "status", "reason", "params", "non_trainable", "macs", "flops",
                "top1_err", "top5_err", "train_s", "train_img_per_s", "infer_ms_b1", "infer_ms_b32", "depth",
                "input_shape", "width", "study", "weights_path"):
        assert col in csv.columns and col in records[0], col
    assert "history" not in csv.columns and "config" not in csv.columns and "key" not in csv.columns
    assert csv["status"].tolist() == ["done", "done", "done", "failed"]
    lenet = csv[(csv["model"] == "lenet5") & (csv["status"] == "done")]
    assert lenet["params"].tolist() == [LENET_HALF_PARAMS] * 2 == [15_652] * 2
    assert lenet["macs"].tolist() == [LENET_HALF_MACS] * 2 == [133_656] * 2
    assert lenet["flops"].tolist() == [267_312] * 2 and (lenet["depth"] == 5).all()  # FLOPs = 2 x 133,656
    assert lenet["input_shape"].tolist() == ["32x32x1"] * 2
    assert records[0]["params"] == 15_652
    # counts are written as JSON integers (15652, not 15652.0); the failed trial has none
    text = (run["dir"] / "results.json").read_text()
    assert re.findall(r'"params": ([^,]+),', text) == ["15652", "15652", "60000", "null"]
    assert records[2]["model"] == "lenet5_1998" and records[2]["params"] == 60_000  # grey input; the RBF head is fixed (non-trainable)
    assert records[2]["non_trainable"] == 8 * 84  # the RBF output's fixed codes
    # every stored error is the saved model's mistakes on the 160 test images, counted independently
    assert sorted(recounted) == [1, 2, 3] and {r.n_test for r in recounted.values()} == {160}
    done = csv[csv["status"] == "done"].set_index("id")
    for tid, r in recounted.items():
        assert done.loc[tid, "top1_err"] == pytest.approx(r.top1_mistakes / 160, abs=1e-12), tid
        assert done.loc[tid, "top1_acc"] == pytest.approx(1 - r.top1_mistakes / 160, abs=1e-12), tid
        assert np.isnan(done.loc[tid, "top5_err"]), tid  # 8 classes: top-5 is not shown
        assert (done.loc[tid, "n_train"], done.loc[tid, "n_val"], done.loc[tid, "n_test"]) == (144, 16, 160)
        assert (r.n_train, r.n_val) == (144, 16)  # 10% of the 160 training images, 2 per class
        assert done.loc[tid, "val_err"] == pytest.approx(r.val_mistakes / 16, abs=1e-12), tid


def test_results_csv_integers_and_exact_strings(run, recounted):
    """Integer columns are written as integers, floats without binary noise."""
    import csv as csvlib

    with open(run["dir"] / "results.csv", newline="") as f:
        rows = list(csvlib.DictReader(f))
    first = rows[0]
    assert {k: first[k] for k in ("id", "seed", "epochs", "batch_size", "n_train", "n_val", "n_test", "classes",
                                  "epochs_run", "params", "macs", "depth", "limit", "input_size")} == {
        "id": "1", "seed": "0", "epochs": "2", "batch_size": "32", "n_train": "144", "n_val": "16", "n_test": "160",
        "classes": "8", "epochs_run": "2", "params": "15652", "macs": "133656", "depth": "5", "limit": "160",
        "input_size": "32"}
    assert (first["lr"], first["val_fraction"], first["optimizer"], first["schedule"], first["augment"]) == (
        "0.001", "0.1", "adam", "cosine", "none")
    r = recounted[1]
    assert first["top1_correct"] == str(160 - r.top1_mistakes)
    assert first["top1_err"] == repr(float(f"{r.top1_mistakes / 160:.12g}"))  # e.g. 0.35625, never 0.35625000000000001
    assert rows[3]["status"] == "failed" and rows[3]["n_train"] == rows[3]["params"] == ""
    def digits(value):
        return len(value.split("e")[0].replace("-", "").replace(".", "").lstrip("0"))
    for row in rows:  # no float noise anywhere: at most 12 significant digits
        for key, value in row.items():
            if re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", value or ""):
                assert digits(value) <= 12, (key, value)
    # Keras' float32 metrics: the stored float64 widening (e.g. 0.980833351612 for float32(3531/3600))
    # is written as the shortest decimal of that float32 (0.98083335)
    from compare.store import Store

    stored = Store(run["dir"] / "results.sqlite").trials().set_index("id")
    for row in rows[:3]:
        for key in ("train_loss", "train_acc"):
            raw = float(stored.at[int(row["id"]), key])
            assert np.float32(float(row[key])) == np.float32(raw) and digits(row[key]) <= 9, (key, row[key], raw)
    csv = pd.read_csv(run["dir"] / "results.csv")
    for col in ("n_train", "n_val", "n_test", "epochs", "batch_size", "seed", "top1_correct"):
        assert csv[col].dropna().map(lambda v: float(v).is_integer()).all(), col


def test_every_csv_column_is_documented_with_a_unit(run):
    from reports.reference import COLUMN_UNITS

    columns = pd.read_csv(run["dir"] / "results.csv").columns
    assert sorted(set(columns) - set(COLUMN_UNITS)) == []
    table = _md_table(run["md"], "Columns of results.csv")
    assert list(table["column"]) == list(columns)  # the file's columns, no others (an eval run has no epochs)
    assert COLUMN_UNITS["n_val"].startswith("validation images") and "(count" in COLUMN_UNITS["n_val"]


def test_ranking_ties_with_mcnemar_on_stored_predictions(run, recounted):
    """The comparison table's p-value is McNemar's exact test on the two models' stored predictions
    (seed 0 is the only seed both ran), recomputed here with scipy (one comparison: Holm's adjustment
    leaves it as it is); ties share rank 1."""
    from scipy.stats import binomtest

    from compare.data import load_dataset

    labels = load_dataset("shapes", limit=160).y_test
    err = {"lenet5": (recounted[1].top1_mistakes + recounted[2].top1_mistakes) / 320,
           "lenet5_1998": recounted[3].top1_mistakes / 160}
    best, other = sorted(err, key=err.get)
    seed0 = {"lenet5": recounted[1], "lenet5_1998": recounted[3]}
    right = {m: np.array(seed0[m].test_pred) == labels for m in err}
    b = int(np.sum(right[best] & ~right[other]))
    c = int(np.sum(~right[best] & right[other]))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    rows = _md_table(run["md"], "shapes: one row per model").set_index("model")
    shown = rows.loc[other, "McNemar p vs best (Holm)"]
    assert shown == ("< 0.001" if p < 0.001 else f"{p:.3f}")
    tied = p >= 0.05
    assert rows.loc[other, "rank"] == ("1=" if tied else "2")
    assert rows.loc[best, "rank"] == ("1=" if tied else "1") and rows.loc[best, "McNemar p vs best (Holm)"] == ""
    # the headline says the same, and that the two were not trained alike (widths 0.5 and 1)
    headline = run["md"].split("Lowest top-1 test error: ", 1)[1].split("\n", 1)[0]
    assert headline.endswith(
        (f" Models not distinguishable from it on these 160 test images (McNemar, Holm-adjusted p >= 0.05) share "
         f"its rank: {other}." if tied else " Every other model's error is significantly higher (McNemar, "
         "Holm-adjusted p < 0.05).") + " The models were trained with different inputs, widths or budgets (see "
        "Comparison), so a difference is not the architecture's alone."), headline
    # the Wilson interval of the one-seed model is shown
    from compare.stats import wilson

    lo, hi = wilson(recounted[3].top1_mistakes, 160)
    assert rows.loc["lenet5_1998", "95% CI (%)"] == f"{lo * 100:.2f}–{hi * 100:.2f}"
    # the same training budget, but lenet5 ran at width 0.5 and lenet5_1998 (fixed width) at 1; the
    # widths are named in the table's order (the lower error first)
    width = {"lenet5": "0.5", "lenet5_1998": "1"}
    assert (f"Set-ups differ across these rows (input, width, training budget): width ({width[best]}, "
            f"{width[other]}). An error difference between such rows mixes the architecture with its input, width "
            "and training budget.") in run["md"]


def test_budget_note_names_what_differs():
    from reports.ranking import budget_note

    same = pd.DataFrame({"input_shape": ["32x32x1", "32x32x1"], "width": [0.5, 0.5], "epochs": [5, 5], "batch_size": [64, 64],
                         "augment": ["none", "none"]})
    assert budget_note(same) is None
    differ = pd.DataFrame({"input_shape": ["32x32x1", "28x28x3", "67x67x3"], "width": [1.0, 0.25, 0.5],
                           "epochs": [20, 6, 6],
                           "batch_size": [32, 64, 64], "lr": [0.002, 0.001, 0.001], "momentum": [0.9, 0.9, 0.9],
                           "augment": ["crop", "none", "none"], "recipe": ["default"] * 3})
    assert budget_note(differ) == (
        "Set-ups differ across these rows (input, width, training budget): input shape (32x32x1, 28x28x3, 67x67x3); "
        "width (1, 0.25, 0.5); epochs (20, 6); "
        "batch size (32, 64); lr (0.002, 0.001); augment (crop, none). An error difference between such rows "
        "mixes the architecture with its input, width and training budget.")
    assert budget_note(differ.assign(input_shape="32x32x1", width=1.0, epochs=6, batch_size=64, lr=0.001, augment="none",
                                     momentum=[0.9, 0.0, 0.9])).startswith(
        "Set-ups differ across these rows (input, width, training budget): momentum (0.9, 0). ")


def test_comparison_table_sorted_by_error_with_mean_and_std(run, recounted):
    table = _md_table(run["md"], "shapes: one row per model")
    assert table.columns.tolist() == [
        "rank", "model", "width", "input", "epochs", "batch", "lr", "optimizer", "schedule", "augment", "recipe",
        "seeds", "train / val / test images", "params", "non-trainable", "MACs", "depth", "val err (%)",
        "top-1 test err (%)", "95% CI (%)", "95% CI over seeds (%)", "McNemar p vs best (Holm)", "train (s)",
        "train (img/s)", "infer b1 (ms/img)", "infer b32 (ms/img)"]
    assert table["train / val / test images"].tolist() == ["144 / 16 / 160"] * 2
    assert table["epochs"].tolist() == ["2", "2"] and table["batch"].tolist() == ["32", "32"]
    # lenet5: trials 1 and 2 (seeds 0, 1); lenet5_1998: trial 3; errors from the recount, in %
    lenet_errs = [recounted[t].top1_mistakes / 160 * 100 for t in (1, 2)]
    mean = {"lenet5": float(np.mean(lenet_errs)), "lenet5_1998": recounted[3].top1_mistakes / 160 * 100}
    assert table["model"].tolist() == sorted(mean, key=mean.get)
    rows = table.set_index("model")
    sizes = ["width", "input", "seeds", "params", "non-trainable", "MACs", "depth"]
    assert rows.loc["lenet5", sizes].tolist() == ["0.5", "32x32x1", "2", "15,652", "0", "133,656", "5"]
    assert rows.loc["lenet5_1998", sizes].tolist() == ["1", "32x32x1", "1", "60,000", "672", "327,928", "5"]
    shown_mean, shown_std = (float(v) for v in rows.loc["lenet5", "top-1 test err (%)"].split(" ± "))
    assert abs(shown_mean - mean["lenet5"]) <= 0.005 + 1e-9  # shown to 2 decimals
    assert abs(shown_std - float(np.std(lenet_errs, ddof=1))) <= 0.005 + 1e-9  # sample std over the 2 seeds
    assert abs(float(rows.loc["lenet5_1998", "top-1 test err (%)"]) - mean["lenet5_1998"]) <= 0.005 + 1e-9  # one seed: no ±
    # two seeds: the t interval of the mean, mean ± 12.706·sd/sqrt(2), clipped to [0, 100]
    half = 12.706204736 * float(np.std(lenet_errs, ddof=1)) / np.sqrt(2)
    lo, hi = max(0.0, mean["lenet5"] - half), min(100.0, mean["lenet5"] + half)
    assert rows.loc["lenet5", "95% CI over seeds (%)"] == f"{lo:.2f}–{hi:.2f}"


def test_canonical_failed_and_profile_tables(run, recounted):
    from compare.stats import wilson

    md = run["md"]
    canon = _md_table(md, "Paper-size figures").set_index("model")
    assert canon.loc["lenet5", "card params"] == "61,706" and canon.loc["lenet5", "card MACs"] == "416,520"
    assert canon.loc["lenet5_1998", "card params"] == "60,000"
    assert canon.loc["lenet5", "run params"] == "15,652" and canon.loc["lenet5", "run input"] == "32x32x1"
    # the run's error carries its 95% Wilson interval here too (lenet5_1998: one seed, 160 test images)
    lo, hi = wilson(recounted[3].top1_mistakes, 160)
    assert canon.loc["lenet5_1998", "run 95% CI (%)"] == f"{lo * 100:.2f}–{hi * 100:.2f}"
    failed = _md_table(md, "Trials that did not finish")
    assert failed["trial"].tolist() == ["4"] and failed["status"].tolist() == ["failed"]
    assert "lenet5 needs inputs of at least 16x16, got --input-size 8" in failed["reason"][0]
    profile = _md_table(md, f"lenet5 (trial {_best_lenet(run)})").set_index("layer")
    assert profile.loc["c1", "params"] == "78" and profile.loc["c1", "MACs"] == "58,800"
    assert profile.loc["total", "params"] == "15,652" and profile.loc["total", "MACs"] == "133,656"
    assert "### lenet5_1998 (trial 3)" in md


def test_counting_conventions_stated_once_and_linked_from_every_counting_table(run):
    from reports.reference import CONVENTIONS

    blocks = run["md"].split("\n### ")[1:]
    titles = [b.split("\n", 1)[0] for b in blocks]
    # comparison, paper sizes, failed trials, one profile per model (2), the columns of results.csv
    assert sorted(titles) == sorted([
        "shapes: one row per model, ranked by top-1 test error", "Paper-size figures beside the run's",
        "Trials that did not finish: 1", "lenet5_1998 (trial 3)", f"lenet5 (trial {_best_lenet(run)})",
        "Columns of results.csv / results.json"])
    from reports.formatting import PROFILE_NOTE

    for doc in (run["md"], run["html"]):
        assert CONVENTIONS not in doc  # not repeated under each table
        assert doc.count("FLOPs = 2 x MACs") == 1 and doc.count("params = trainable parameters") == 1
        assert doc.count(PROFILE_NOTE) == 1  # once, above the two profiles
    section = run["md"].split("## Counting conventions\n", 1)[1].split("\n## ", 1)[0]
    assert "- FLOPs = 2 x MACs" in section and "- depth = weighted layers" in section
    link = "Counts as defined under [Counting conventions](#counting-conventions)."
    headers = [next((l for l in b.splitlines() if l.startswith("|")), "") for b in blocks]
    counting = [b for b, h in zip(blocks, headers) if re.search(r"\b(params|MACs)\b", h)]
    assert len(counting) == 4  # comparison, paper sizes, two profiles
    assert all(link in b for b in counting)
    assert sum(link in b for b in blocks) == 4  # not under the failures or the columns table
    assert run["html"].count('<a href="#counting-conventions">Counting conventions</a>') == 4 + 1  # + contents


def test_contents_and_folded_appendix(run):
    md, page = run["md"], run["html"]
    toc = md.split("**Contents**\n", 1)[1].split("\n## ", 1)[0]
    entries = re.findall(r"^( *)- \[([^\]]+)\]\(#([^)]+)\)$", toc, re.M)
    assert [(indent, text) for indent, text, _ in entries] == [
        ("", "Counting conventions"), ("", "Comparison"), ("  ", "shapes: one row per model, ranked by top-1 test error"),
        ("", "Figures"), ("", "Canonical size vs this run"), ("  ", "Paper-size figures beside the run's"),
        ("", "Failed trials"), ("  ", "Trials that did not finish: 1"), ("", "Appendix: per-layer profiles"),
        ("", "Files"), ("  ", "Columns of results.csv / results.json")]
    assert entries[1][2] == "comparison" and entries[5][2] == "paper-size-figures-beside-the-runs"
    assert page.count('<nav class="toc">') == 1 and page.index('<nav class="toc">') < page.index("<h2 ")
    # the per-layer profiles: one folded <details> each, holding its table; nothing else folded
    folded = re.findall(r"<details><summary>([^<]+)</summary>(.*?)</details>", page, re.S)
    # one per model, its trial of lowest validation error; the models in that order
    csv = pd.read_csv(run["dir"] / "results.csv")
    done = csv[csv["status"] == "done"].sort_values(["val_err", "top1_err", "id"])
    layers = {"lenet5_1998": 11, "lenet5": 8}
    expected = [f"{m} (trial {int(t)}): {layers[m]} layers" for m, t in
                done.groupby("model", sort=False)["id"].first().items()]
    assert expected == ["lenet5_1998 (trial 3): 11 layers", f"lenet5 (trial {_best_lenet(run)}): 8 layers"] or \
        expected == [f"lenet5 (trial {_best_lenet(run)}): 8 layers", "lenet5_1998 (trial 3): 11 layers"]
    assert [s for s, _ in folded] == expected
    assert all(body.count("<table") == 1 and "<td>total</td>" in body for _, body in folded)
    assert page.count("<details>") == 2 and page.index("<details>") > page.index('id="appendix-per-layer-profiles"')
    assert md.count("<details><summary>") == 2 and md.count("</details>") == 2


def test_every_figure_is_a_valid_png_and_svg(run):
    figures = run["dir"] / "figures"
    for name in FIGURE_NAMES:
        with Image.open(figures / f"{name}.png") as im:
            im.verify()
        with Image.open(figures / f"{name}.png") as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 120  # filters: one row of 1-inch tiles
        assert ET.parse(figures / f"{name}.svg").getroot().tag.endswith("svg")
    assert sorted(p.stem for p in figures.glob("*.png")) == sorted(FIGURE_NAMES)


class _Links(HTMLParser):
    """Every src/href and every id of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("src", "href"):
                self.links.append((tag, value))
            elif key == "id":
                self.ids.append(value)


def check_report_links(folder: Path) -> dict[str, int]:
    """Every link of ``folder``'s report.html and report.md resolves (pure Python, runs everywhere):
    each in-page ``#anchor`` names an element id (HTML) or a heading or footnote (Markdown), each
    ``<img src>`` is a PNG file there, every other link a file there; ids are unique. Returns counts."""
    from PIL import Image

    from reports.document import slug

    parser = _Links()
    parser.feed((folder / "report.html").read_text())
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    anchors = [v for _, v in parser.links if v.startswith("#")]
    assert [a for a in anchors if a[1:] not in parser.ids] == []
    images = [v for t, v in parser.links if t == "img"]
    files = [v for t, v in parser.links if t == "a" and not v.startswith("#")]
    for link in images + files:
        assert not re.match(r"[a-z]+:", link), link  # relative: opens offline
        assert (folder / link).is_file(), link
    for src in images:
        with Image.open(folder / src) as im:
            assert im.format == "PNG" and im.size[0] > 100, src
    md = (folder / "report.md").read_text()
    headings = [slug(h) for h in re.findall(r"^#{1,3} (.+)$", md, re.M)]
    assert len(headings) == len(set(headings)), "duplicate heading anchors"
    md_links = re.findall(r"\]\(([^)]+)\)", md)
    assert [a for a in md_links if a.startswith("#") and a[1:] not in headings] == []
    assert [a for a in md_links if not a.startswith("#") and not (folder / a).is_file()] == []
    refs, defined = set(re.findall(r"\[\^(\d+)\](?!:)", md)), set(re.findall(r"^\[\^(\d+)\]:", md, re.M))
    assert refs == defined
    return dict(anchors=len(anchors), images=len(images), files=len(files), md_links=len(md_links))


def test_every_html_and_markdown_link_resolves(run):
    counts = check_report_links(run["dir"])
    assert counts["images"] == len(FIGURE_NAMES)
    # files: each figure's SVG, and report.md, report.html, results.csv, results.json, results.sqlite
    assert counts["files"] == len(FIGURE_NAMES) + 5
    assert counts["anchors"] == 11 + 4  # the contents, and the 4 notes linking to the counting conventions
    parser = _Links()
    parser.feed(run["html"])
    assert sorted(v for t, v in parser.links if t == "img") == sorted(f"figures/{n}.png" for n in FIGURE_NAMES)


@contextlib.contextmanager
def _served(folder: Path):
    """``folder`` served over HTTP on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no request lines on stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                    reason="needs Chromium at /usr/bin/chromium (Debian: apt-get install chromium); the "
                           "html.parser checks in test_every_html_and_markdown_link_resolves run without it")
def test_report_in_a_headless_browser(run):
    """report.html served over HTTP and loaded in headless Chromium: no console error, every image
    decoded, every in-page link lands on an element, the appendix folded; a screenshot of the top."""
    import _chromium

    with _served(run["dir"]) as base:
        page = _chromium.inspect_page(f"{base}/report.html")
    assert page.errors == []
    assert page.title == f"Report: {run['dir'].name}"
    assert sorted(i["src"] for i in page.images) == sorted(f"figures/{n}.png" for n in FIGURE_NAMES)
    for image in page.images:
        with Image.open(run["dir"] / image["src"]) as im:  # drawn at the file's own size
            assert image["complete"] and (image["naturalWidth"], image["naturalHeight"]) == im.size, image
    assert len(page.links) == 15 and [link for link in page.links if not link["found"]] == []
    assert page.details == [False, False]  # two per-layer profiles, folded
    assert {"counting-conventions", "comparison", "figure-error_vs_macs"} <= set(page.ids)
    with Image.open(io.BytesIO(page.screenshot)) as shot:
        assert shot.format == "PNG" and shot.size == (1280, 900)
        pixels = np.asarray(shot.convert("L"))
    assert (pixels < 100).mean() > 0.005  # text drawn, not a blank page
    assert pixels[:20, :1200].min() >= 200  # the top margin is white (left of the scroll bar): drawn from its top


def test_the_example_report_in_docs_is_whole():
    """docs/example holds everything its report links to (report.md, report.html, the data files, the figures)."""
    example = ROOT / "docs" / "example"
    counts = check_report_links(example)
    assert counts["images"] >= 7 and counts["files"] >= counts["images"] + 5
    for name in ("report.md", "report.html", "results.csv", "results.json", "results.sqlite"):
        assert (example / name).is_file(), name
    assert len(pd.read_csv(example / "results.csv")) == 7  # the main job: one trial per family
    readme = re.findall(r"\]\((docs/example[^)]*)\)", (ROOT / "README.md").read_text())
    linked = {Path(link).name for link in readme}
    assert {"report.md", "report.html", "results.csv", "results.json", "results.sqlite", "figures"} <= linked
    assert [link for link in readme if not (ROOT / link).exists()] == []


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                    reason="needs Chromium at /usr/bin/chromium (Debian: apt-get install chromium); "
                           "test_the_example_report_in_docs_is_whole checks its links without it")
def test_the_example_report_in_a_headless_browser():
    import _chromium

    example = ROOT / "docs" / "example"
    with _served(example) as base:
        page = _chromium.inspect_page(f"{base}/report.html")
    assert page.errors == []
    assert len(page.images) >= 7 and all(i["complete"] and i["naturalWidth"] > 0 for i in page.images)
    assert page.links and [link for link in page.links if not link["found"]] == []
    assert page.details and not any(page.details)  # the per-layer profiles, folded


def test_long_cells_become_footnotes():
    from reports.document import to_html, to_markdown
    from reports.formatting import Table

    long_a, long_b = "ILSVRC-2012 test, top-5 of the paper's ensemble of 5 CNNs", "MNIST test set, 10,000 images, no distortions"
    table = Table("Cards", ["model", "paper error on", "top-1", "reason"],
                  [["alexnet", long_a, "16.4", "x" * 80], ["zfnet", long_a, "14.8", ""], ["lenet5", long_b, "0.95", ""],
                   ["vgg", "short", "7.3", ""]], "", right={2})
    blocks = [("h1", "R"), ("toc",), ("h2", "Cards"), ("table", table)]
    md = to_markdown(blocks)
    rows = [line for line in md.splitlines() if line.startswith("| ") and "model" not in line]
    assert [r.split(" | ")[1] for r in rows] == ["[^1]", "[^1]", "[^2]", "short"]  # one footnote per text
    assert rows[0].endswith(" | " + "x" * 80 + " |")  # the last column stays inline
    assert f"[^1]: {long_a}" in md and f"[^2]: {long_b}" in md
    page = to_html(blocks, "R")
    assert page.count('href="#fn-1"') == 2 and page.count('id="fnref-1"') == 1 and page.count('id="fn-1"') == 1
    assert f'<li id="fn-2" value="2">{long_b} <a href="#fnref-2"' in page.replace("&#x27;", "'")


def _scatter_points(ax) -> list[tuple[float, float]]:
    """(x, y) of the non-empty scatter on ``ax`` (the legend's size samples are empty scatters)."""
    from matplotlib.collections import PathCollection

    sets = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert len(sets) == 1, len(sets)
    return sorted((float(x), float(y)) for x, y in sets[0])


def test_plot_functions_take_frames_and_return_figures(run, recounted):
    import reports
    from compare.store import Store

    data = reports.ReportData(run["dir"], reports.load_trials(run["dir"]))
    assert sorted(data.main["model"]) == ["lenet5", "lenet5_1998"]
    err = {"lenet5": (recounted[1].top1_mistakes + recounted[2].top1_mistakes) / 320 * 100,
           "lenet5_1998": recounted[3].top1_mistakes / 160 * 100}
    # error vs MACs: one bubble per model at (MACs, mean top-1 error %)
    fig = reports.plot_error_vs_macs(data.main)
    points = _scatter_points(fig.axes[0])
    assert [p[0] for p in points] == [133_656, 327_928]
    assert [p[1] for p in points] == pytest.approx([err["lenet5"], err["lenet5_1998"]], abs=1e-9)
    assert fig.axes[0].get_xlabel().startswith("MACs per image")
    # error vs depth: both at depth 5, beside the ILSVRC panel
    fig = reports.plot_error_vs_depth(data.main)
    points = _scatter_points(fig.axes[0])
    assert [p[0] for p in points] == [5, 5]
    assert sorted(p[1] for p in points) == pytest.approx(sorted(err.values()), abs=1e-9)
    # training loss: one panel per model, a training and a validation line of 2 epochs each; the
    # lenet5 line is the mean over its two seeds of the per-epoch losses Keras returned
    fig = reports.plot_training_curves(data.curves, "loss")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["lenet5 (2 seeds)", "lenet5_1998"]
    assert [[list(line.get_xdata()) for line in ax.get_lines()] for ax in panels] == [[[1, 2], [1, 2]]] * 2
    with Store(run["dir"] / "results.sqlite") as store:
        hist = store.trials("done").set_index("id")["history"]
    for split, line in zip(("loss", "val_loss"), panels[0].get_lines()):
        expected = np.mean([hist[1][split], hist[2][split]], axis=0)
        assert list(line.get_ydata()) == pytest.approx(expected.tolist(), rel=1e-12), split
    # sizes: a dot plot, this run's dots beside the cards' squares (lenet5_1998 at 32x32: 328,096 MACs, counted
    # by hand in test_profile); no bars
    fig = reports.plot_size(data.main, data.canonical)
    params_ax, macs_ax = fig.axes
    assert [t.get_text() for t in params_ax.get_yticklabels()] == ["lenet5", "lenet5_1998"]
    for ax, run_x, card_x in ((params_ax, [15_652, 60_000], [61_706, 60_000]),
                              (macs_ax, [133_656, 327_928], [416_520, 328_096])):
        assert len(ax.patches) == 0 and ax.get_xscale() == "log"
        dots = {line.get_marker(): line for line in ax.get_lines()}
        assert sorted(dots) == ["o", "s"] and all(line.get_linestyle() == "None" for line in dots.values())
        assert list(dots["o"].get_xdata()) == run_x and list(dots["s"].get_xdata()) == card_x
        assert list(dots["o"].get_ydata()) == list(dots["s"].get_ydata()) == [0, 1]  # one row per model
    assert params_ax.get_shared_y_axes().joined(params_ax, macs_ax)
    # the ILSVRC history alone
    ilsvrc = reports.plot_ilsvrc().axes[0]
    assert [t.get_text() for t in ilsvrc.get_xticklabels()] == ["shallow", "8", "22", "152", "not\nrecorded"]
    assert ilsvrc.get_ylabel() == "top-5 error (%)"
    labels = {t.get_text() for t in ilsvrc.texts}
    assert {"2012 AlexNet (16.4)", "2014 VGG, 2nd (7.3)", "2016 Trimps-Soushen (2.99)", "2017 SENet (2.251)"} <= labels
    assert len(data.curves[(data.curves["model"] == "lenet5") & (data.curves["split"] == "val")]) == 2 * 2 * 2


def test_training_curves_share_a_log_loss_axis_and_zoom_accuracy():
    import reports

    rows = []
    # "a" starts far below the band the rest lives in; "g" learns slowly over 10 epochs (as GoogLeNet
    # does in the main job: 0.38 at epoch 2), which must not stretch the shared axis either
    accuracies = {"a": [0.30, 0.95, 0.97, 0.98, 0.985],
                  "g": [0.10, 0.38, 0.60, 0.80, 0.93, 0.955, 0.96, 0.965, 0.97, 0.975]}
    for model, accs in accuracies.items():
        for epoch, acc in enumerate(accs, start=1):
            rows += [dict(study="main", dataset="d", model=model, seed=0, id=1, epoch=epoch, metric="accuracy",
                          split="train", value=acc),
                     dict(study="main", dataset="d", model=model, seed=0, id=1, epoch=epoch, metric="loss",
                          split="train", value=2.0 * 0.1 ** (epoch - 1))]
    curves = pd.DataFrame(rows)
    fig = reports.plot_training_curves(curves, "loss")
    a, g = [ax for ax in fig.axes if ax.get_visible()]
    assert a.get_yscale() == g.get_yscale() == "log" and a.get_shared_y_axes().joined(a, g)
    lo, hi = a.get_ylim()
    assert lo <= 2e-9 and hi >= 2.0  # 2.0 down to 2e-9 (g's tenth epoch) all visible
    fig = reports.plot_training_curves(curves, "accuracy")
    a, g = [ax for ax in fig.axes if ax.get_visible()]
    assert a.get_yscale() == "linear" and a.get_shared_y_axes().joined(a, g)
    # the lowest value in the second half of each curve: a's epochs 3-5 (0.97), g's epochs 6-10
    # (0.955); the highest 0.985; margins 8% of the 0.03 span
    assert a.get_ylim() == pytest.approx((0.955 - 0.0024, 0.985 + 0.0024), abs=1e-9)
    assert not fig.texts and fig._suptitle is None
    # one epoch axis: a's 5 epochs sit in the left half of its panel, beside g's 10, both numbered
    assert a.get_shared_x_axes().joined(a, g) and a.get_xlim() == g.get_xlim() == (0.5, 10.5)
    assert [t for t in a.get_xticks()] == [t for t in g.get_xticks()] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert all(ax.xaxis.get_tick_params()["labelbottom"] for ax in (a, g))


def test_error_vs_macs_labels_keep_off_the_error_bars(tmp_path):
    """docs/example's seven models, error vs MACs and vs depth: no model's label covers an error bar
    (resnet20's sat on alexnet's and read as its)."""
    import shutil

    import reports

    shutil.copy(ROOT / "docs" / "example" / "results.sqlite", tmp_path / "results.sqlite")
    data = reports.ReportData(tmp_path, reports.load_trials(tmp_path))
    from matplotlib.text import Text

    df = data.main
    for fig, x in ((reports.plot_error_vs_macs(df), "macs"), (reports.plot_error_vs_depth(df), "depth")):
        ax = fig.axes[0]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        bars = [(ax.transData.transform((v, lo * 100)), ax.transData.transform((v, hi * 100)))
                for v, lo, hi in zip(df[x], df["top1_err_lo"], df["top1_err_hi"])]
        labels = {t.get_text(): Text.get_window_extent(t, renderer) for t in ax.texts}  # the text, not its leader
        assert sorted(labels) == sorted(df["model"])
        for name, box in labels.items():
            for model, (low, high) in zip(df["model"], bars):
                crosses = box.x0 <= low[0] <= box.x1 and box.y0 <= high[1] and low[1] <= box.y1
                assert not crosses, f"error vs {x}: the label {name!r} covers {model}'s error bar"


def test_ilsvrc_panel_marks_every_ensemble_alike_and_labels_sit_by_their_points():
    from matplotlib.text import Text

    import reports
    from reports.reference import ILSVRC

    fig = reports.plot_ilsvrc()
    ax = fig.axes[0]
    assert ax.get_title() == "ILSVRC classification winners (and 2014's runner-up, VGG)"
    assert not fig.texts and fig._suptitle is None  # the caption is in the report's text
    circles, diamonds = (c for c in ax.collections)
    as_points = lambda c: sorted(map(tuple, np.asarray(c.get_offsets()).round(3).tolist()))  # noqa: E731
    assert as_points(diamonds) == sorted([(8, 16.4), (8, 11.7), (19, 7.3), (22, 6.67), (152, 3.57), (400, 2.99),
                                          (152, 2.251)])
    assert as_points(circles) == [(2, 25.8), (2, 28.2)]
    assert [e.entry for e in ILSVRC if e.ensemble] == ["AlexNet", "Clarifai", "VGG", "GoogLeNet", "ResNet",
                                                       "Trimps-Soushen", "SENet"]
    assert [e.entry for e in ILSVRC if e.place == 2] == ["VGG"]
    fig.canvas.draw()  # places the annotations' texts
    renderer = fig.canvas.get_renderer()
    boxes = []
    for t in ax.texts:
        box = Text.get_window_extent(t, renderer)  # the text alone, without a leader line
        point = ax.transData.transform(t.xy)
        centre, half = np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2, np.array([box.width, box.height]) / 2
        gap = np.hypot(*np.maximum(np.abs(centre - point) - half, 0))
        assert gap < 15 and t.arrow_patch is None, (t.get_text(), gap)  # beside its point: no leader line
        boxes.append((centre, half))
    assert len(boxes) == len(ILSVRC)
    for i, (ci, hi) in enumerate(boxes):
        for cj, hj in boxes[i + 1:]:
            assert (np.abs(ci - cj) >= hi + hj).any()  # no two labels overlap


def test_report_figures_carry_no_baked_caption(run):
    import reports
    from reports.figures import FIGURES

    data = reports.ReportData(run["dir"], reports.load_trials(run["dir"]))
    made = {}
    for spec in FIGURES:
        fig = spec.make(data)
        if fig is not None:
            made[spec.name] = fig
            assert not fig.texts and fig._suptitle is None, spec.name
    assert sorted(made) == sorted(FIGURE_NAMES)
    # activations: one colour scale per layer, with its colour bar
    fig = made["activations"]
    bars = [ax for ax in fig.axes if ax.get_label() == "colorbar"]
    assert len(bars) == 2  # c1 and the next convolution
    maps = [ax for ax in fig.axes if ax.get_visible() and ax.images and ax.get_title().startswith("#")]
    scales = {ax.images[0].get_clim() for ax in maps}
    assert len(scales) == 2 and {tuple(b.get_ylim()) for b in bars} == scales


def test_alexnet_filters_in_rgb_enlarged():
    import zoo
    from reports.filters import filters_caption, plot_filters

    model = zoo.build("alexnet", width=0.25, input_shape=(67, 67, 3), classes=10)
    kernel = np.asarray(model.get_layer("conv1").kernel)
    assert kernel.shape == (11, 11, 3, 24)
    fig = plot_filters(model)
    tiles = [ax for ax in fig.axes if ax.get_visible()]
    assert len(tiles) == 24 and not fig.texts and fig._suptitle is None
    w = kernel[..., 5]
    shown = tiles[5].images[0].get_array()
    assert shown.shape == (11, 11, 3)  # colour, not a channel mean
    assert np.allclose(shown, 0.5 + w / (2 * np.abs(w).max()))  # zero weight = mid-grey
    width_px = tiles[0].get_window_extent(fig.canvas.get_renderer()).width * 110 / fig.dpi  # at the report's dpi
    assert width_px >= 90  # about 9 px per kernel pixel
    assert filters_caption(model).startswith("layer 'conv1': 24 filters of 11x11x3, shown in RGB")


# -- bad input: one line, exit code 2 --------------------------------------------------------------

def _one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_rgb_filters_trained_on_grey_images_say_their_colours_mean_nothing():
    import keras

    from reports.figures import _grey_note

    class Data:  # rows stored before data_channels: the named grey datasets
        results = pd.DataFrame({"id": [1, 2], "dataset": ["mnist5k", "cifar10"]})

    class Stored:  # the dataset's channels as the trial stored them: a folder of grey images too
        results = pd.DataFrame({"id": [1, 2, 3], "dataset": ["folder:/data/grey", "folder:/data/rgb", "mnist5k"],
                                "data_channels": [1, 3, None]})

    rgb = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    grey = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    assert _grey_note(Data, 1, rgb).startswith(" mnist5k is grey: each image reached all three input channels as "
                                               "the same copy, so a filter's colour planes saw identical inputs")
    assert _grey_note(Data, 2, rgb) == ""  # colour photographs: the colours are learned
    assert _grey_note(Data, 1, grey) == ""  # shown in grey anyway
    assert _grey_note(Stored, 1, rgb).startswith(" folder:/data/grey is grey: each image reached all three input")
    assert _grey_note(Stored, 2, rgb) == ""
    assert _grey_note(Stored, 3, rgb) == _grey_note(Data, 1, rgb)  # an old row in a newer run's table
    assert _grey_note(Stored, 1, grey) == ""


def test_missing_and_empty_run_directory(tmp_path):
    err = _one_error_line(*_cli([str(tmp_path / "nope")]))
    assert "does not exist" in err and "nope" in err
    err = _one_error_line(*_cli([str(tmp_path)]))
    assert "no results store" in err and "results.sqlite" in err


def test_corrupt_and_empty_store(tmp_path):
    from compare.store import Store

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.sqlite").write_bytes(b"this is not a database\n" * 50)
    err = _one_error_line(*_cli([str(bad)]))
    assert "cannot read results store" in err and "not a SQLite database" in err
    empty = tmp_path / "empty"
    Store(empty / "results.sqlite").close()
    err = _one_error_line(*_cli([str(empty)]))
    assert "holds no trials" in err


def test_store_with_only_failed_trials_reports_the_reasons(tmp_path):
    from compare.store import Store

    with Store(tmp_path / "results.sqlite") as store:
        for model, reason in (("lenet5", "ValueError: out of memory at batch 3"), ("vgg16", "killed by user")):
            store.fail(store.begin(fixture._config(model, 1.0, 0, 32)), reason)
    err = _one_error_line(*_cli([str(tmp_path)]))
    assert "no trial" in err and "2 failed" in err and "report.md" in err
    md = (tmp_path / "report.md").read_text()
    assert "No trial finished: all 2 trials failed" in md
    failed = _md_table(md, "Trials that did not finish")
    assert failed["reason"].tolist() == ["ValueError: out of memory at batch 3", "killed by user"]
    assert len(pd.read_csv(tmp_path / "results.csv")) == 2
    assert not (tmp_path / "figures").exists()


# -- pieces ----------------------------------------------------------------------------------------

def test_repel_leaves_no_overlaps_and_stays_in_bounds():
    from reports.plots import repel

    rng = np.random.default_rng(0)
    anchors = rng.uniform(100, 160, (12, 2))  # a crowded cluster
    sizes = np.tile([60.0, 12.0], (12, 1))
    centres = repel(anchors, sizes, (0, 0, 600, 400), pad=2.0)
    half = sizes / 2
    for i in range(12):
        assert (centres[i] - half[i] >= 0).all() and (centres[i] + half[i] <= [600, 400]).all()
        for j in range(i + 1, 12):
            gap = np.abs(centres[i] - centres[j]) - (half[i] + half[j])
            assert gap.max() >= 0, (i, j)  # separated along at least one axis
        inside = (np.abs(anchors - centres[i]) < half[i]).all(axis=1)
        assert not inside.any(), i  # no label covers a point
    lone = repel(np.array([[300.0, 200.0]]), np.array([[40.0, 10.0]]), (0, 0, 600, 400), radii=5.0, pad=2.0)
    assert lone[0, 0] > 300 and abs(lone[0, 1] - 200) < 1  # to the right of its point


def test_import_is_lazy():
    code = "import sys, reports; print(sorted(m for m in ('keras', 'matplotlib', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # the first use of a name loads its module then, and gives that module's object
    code = ("import sys, reports; f = reports.write_report; "
            "loaded = [m in sys.modules for m in ('reports.render', 'matplotlib')]; import reports.render as r; "
            "print(*loaded, f is r.write_report)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


def test_a_figure_that_cannot_be_drawn_becomes_a_note(run, tmp_path):
    import shutil

    import reports

    shutil.copy(run["dir"] / "results.sqlite", tmp_path / "results.sqlite")  # no models/ folder
    rep = reports.build_report(tmp_path, profiles=False)
    assert rep.figures == FIGURE_NAMES[:5]
    assert rep.notes == [f"figure '{n}' left out: FileNotFoundError: no trained model file (weights_path) "
                         "found in the run directory" for n in ("filters", "activations")]
    md = (tmp_path / "report.md").read_text()
    assert "## Notes" in md and "figure 'filters' left out" in md
    assert rep.paths[:4] == [tmp_path / n for n in ("report.md", "report.html", "results.csv", "results.json")]


def test_export_copies_the_whole_report(run, tmp_path):
    dest = tmp_path / "example"
    (dest / "figures").mkdir(parents=True)
    (dest / "figures" / "gone.png").write_bytes(b"an earlier export's figure")
    code, out, _ = _cli([str(run["dir"]), "--no-profiles", "--export", str(dest)])
    assert code == 0 and "exported 5 files and 14 figure files" in out
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        ["figures", "report.md", "report.html", "results.csv", "results.json", "results.sqlite"])
    assert sorted(p.name for p in (dest / "figures").iterdir()) == sorted(
        f"{n}.{ext}" for n in FIGURE_NAMES for ext in ("png", "svg"))  # the stale figure is gone
    from compare.store import Store

    with Store(dest / "results.sqlite") as copy, Store(run["dir"] / "results.sqlite") as orig:
        assert copy.trials(status=None).equals(orig.trials(status=None))  # every trial, as the run has it
        assert copy.get_meta("exported_from") == {"from": run["dir"].resolve().name, "trials": len(orig.trials(status=None))}
        assert orig.get_meta("exported_from") is None
    check_report_links(dest)
    code, out, _ = _cli([str(run["dir"]), "--no-figures", "--no-profiles", "--export", str(dest)])
    assert code == 0 and "exported 5 files" in out  # an earlier export is replaced


def test_export_never_replaces_a_runs_own_store(run, tmp_path, monkeypatch):
    """Into the run directory itself (by any name), into another run's directory, into an export to
    which trials were added since, or over a file that is no results store: one error line before
    any work (the report is not rebuilt), and what was there is left as it was."""
    import shutil

    src, other = tmp_path / "run", tmp_path / "other"
    shutil.copytree(run["dir"], src)
    shutil.copytree(run["dir"], other)
    (tmp_path / "alias").symlink_to(src)
    from compare.store import Store

    with Store(other / "results.sqlite") as store:  # another run: its store differs from src's
        store.set_meta("note", "the other run")
    exported = tmp_path / "exported"
    assert _cli([str(src), "--no-figures", "--no-profiles", "--export", str(exported)])[0] == 0
    with Store(exported / "results.sqlite") as store:  # then someone trains into the export
        store.finish(store.begin(dict(study="main", model="lenet5", dataset="digits", seed=9)), dict(top1_err=0.5))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "results.sqlite").write_bytes(b"not a database")
    n = len(Store(src / "results.sqlite").trials(status=None))
    refused = {
        str(tmp_path / "alias"): f"--export {str(tmp_path / 'alias')!r} is the run directory itself, where the report "
                                 "is written anyway; accepted: another directory",
        str(other): f"--export {str(other)!r} holds a run's own results store ({other / 'results.sqlite'}), which the "
                    "export would replace; accepted: a new directory or an earlier export",
        str(exported): f"--export {str(exported)!r} holds a run's own results store ({exported / 'results.sqlite'} "
                       f"(an export of {n} trial(s), {n + 1} now)), which the export would replace; accepted: a new "
                       "directory or an earlier export",
        str(tmp_path / "junk"): f"--export: {tmp_path / 'junk' / 'results.sqlite'} is not a readable results store "
                                "(file is not a database); accepted: a directory without one, or an earlier export "
                                "(remove the file or choose another directory)",
    }
    before = {p: p.stat().st_mtime_ns for p in (src / "report.md", other / "results.sqlite",
                                                exported / "results.sqlite")}
    for dest, said in refused.items():
        code, out, err = _cli([str(src), "--no-profiles", "--export", dest])
        assert (code, out, err) == (2, "", f"error: {said}\n")
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # `--export=~/x` (the shell leaves that ~ alone): checked and written at HOME/x, not at ./~/x
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli([str(src), "--no-figures", "--no-profiles", "--export=~/other"])
    assert code == 2 and not (tmp_path / "~").exists()
    code, out, _ = _cli([str(src), "--no-figures", "--no-profiles", "--export=~/fresh"])
    assert code == 0 and out.endswith(f"to {tmp_path / 'fresh'})\n") and (tmp_path / "fresh" / "report.md").is_file()


def test_export_leaves_out_figures_the_report_does_not_show(run, tmp_path):
    """A report rendered again with --no-figures: its run directory still holds the earlier figures,
    and the export copies none of them (it copied all 14)."""
    import shutil

    src = tmp_path / "run"
    shutil.copytree(run["dir"], src)  # the module's run stays as it is for the other tests
    dest = tmp_path / "example"
    code, out, _ = _cli([str(src), "--no-figures", "--no-profiles", "--export", str(dest)])
    assert code == 0 and "exported 5 files and 0 figure files" in out
    assert len(list((src / "figures").iterdir())) == 14 and list((dest / "figures").iterdir()) == []
    check_report_links(dest)


def test_rank_pairs_seeds_and_keeps_the_largest_p():
    """rank(): McNemar against the best on the seeds both ran, the largest p over seeds; rows
    without stored predictions get no p and keep their position."""
    from scipy.stats import binomtest

    from reports.ranking import rank
    from reports.tables import summarize, tidy

    label = np.arange(100) % 10
    def wrong(n):  # predictions with the first n images wrong
        p = label.copy()
        p[:n] = (p[:n] + 1) % 10
        return p
    rows, preds = [], {}
    # (id, model, seed, mistakes): a 2 and 3 mistakes; b 12 and 4; c 20 with no stored predictions
    for tid, model, seed, k in ((1, "a", 0, 2), (2, "a", 1, 3), (3, "b", 0, 12), (4, "b", 1, 4), (5, "c", 0, 20)):
        rows.append(dict(id=tid, study="main", dataset="d", model=model, seed=seed, status="done", top1_err=k / 100,
                         n_test=100, epochs=5, config={}, metrics={}, history={}))
        if model != "c":
            preds[tid] = (wrong(k), label)
    results = tidy(pd.DataFrame(rows))
    out = rank(summarize(results), results, preds).set_index("model")
    # b vs a: seed 0 discordant (b, c) = (10, 0), seed 1 (1, 0): the larger p is seed 1's
    p0, p1 = binomtest(0, 10, 0.5).pvalue, binomtest(0, 1, 0.5).pvalue
    assert out.loc["b", "p_vs_best"] == pytest.approx(max(p0, p1), abs=1e-15) == 1.0
    assert bool(out.loc["b", "tied_with_best"]) and out.loc["b", "rank"] == 1 and out.loc["a", "rank"] == 1
    assert np.isnan(out.loc["c", "p_vs_best"]) and out.loc["c", "rank"] == 3
    # one seed each: b's seed 0 alone differs significantly (10 vs 0 discordant: p = 2/1024)
    one = results[results["seed"] == 0]
    out1 = rank(summarize(one), one, preds).set_index("model")
    assert out1.loc["b", "p_vs_best"] == pytest.approx(2 / 1024, abs=1e-15)
    assert out1.loc["b", "rank"] == 2 and not out1.loc["b", "tied_with_best"] and not out1.loc["a", "tied_with_best"]
    # the Wilson interval is filled from n_test for rows that lack it (older stores)
    from compare.stats import wilson

    assert tuple(one.loc[one["model"] == "b", ["top1_err_lo", "top1_err_hi"]].iloc[0]) == pytest.approx(wilson(12, 100))


def test_rank_a_difference_must_go_the_same_way_at_every_seed():
    """Seeds that disagree: a beats b significantly at seed 0 and b beats a significantly at seed 1
    (a has the lower mean error). Each seed alone is significant (p = 2/2**12 and 2/2**10 two-sided),
    but not in the same direction: no difference is claimed."""
    from reports.ranking import rank
    from reports.tables import summarize, tidy

    label = np.arange(100) % 10

    def wrong(idx):
        p = label.copy()
        p[idx] = (p[idx] + 1) % 10
        return p
    runs = {(1, "a", 0): [], (2, "a", 1): list(range(10)), (3, "b", 0): list(range(12)), (4, "b", 1): []}
    rows = [dict(id=tid, study="main", dataset="d", model=m, seed=seed, status="done", top1_err=len(idx) / 100,
                 n_test=100, epochs=5, config={}, metrics={}, history={}) for (tid, m, seed), idx in runs.items()]
    preds = {tid: (wrong(idx), label) for (tid, _, _), idx in runs.items()}
    results = tidy(pd.DataFrame(rows))
    out = rank(summarize(results), results, preds).set_index("model")
    assert out.loc["b", "p_vs_best_raw"] == 1.0 and bool(out.loc["b", "tied_with_best"])
    assert (out.loc["a", "rank"], out.loc["b", "rank"]) == (1, 1)
    one = results[results["seed"] == 1]  # seed 1 alone: b is the best, and a is significantly worse
    out1 = rank(summarize(one), one, preds).set_index("model")
    assert out1.loc["a", "p_vs_best_raw"] == pytest.approx(2 / 2 ** 10, abs=1e-15) and out1.loc["a", "rank"] == 2


def test_rank_equal_errors_share_their_rank_below_the_best():
    """Two rows with the same error, both significantly worse than the best, share their position
    (competition ranking 1, 2=, 2=, 4), and the table marks the shared rank."""
    from scipy.stats import binomtest

    from reports.formatting import COMPARISON_COLUMNS, display
    from reports.ranking import rank
    from reports.tables import summarize, tidy

    label = np.arange(100) % 10
    def wrong(first, n):  # predictions with images first..first+n-1 wrong
        p = label.copy()
        p[first:first + n] = (p[first:first + n] + 1) % 10
        return p
    rows, preds = [], {}
    for tid, model, first, k in ((1, "a", 0, 2), (2, "b", 0, 12), (3, "d", 88, 12), (4, "e", 0, 20)):
        rows.append(dict(id=tid, study="main", dataset="d", model=model, seed=0, status="done", top1_err=k / 100,
                         n_test=100, epochs=5, config={}, metrics={}, history={}))
        preds[tid] = (wrong(first, k), label)
    results = tidy(pd.DataFrame(rows))
    out = rank(summarize(results), results, preds).set_index("model")
    # d against a: a alone wrong on images 0-1, d alone wrong on 88-99: 2 and 12 discordant
    assert out.loc["d", "p_vs_best"] == pytest.approx(binomtest(2, 14, 0.5).pvalue, abs=1e-15)
    assert out["rank"].to_dict() == {"a": 1, "b": 2, "d": 2, "e": 4}
    assert out["shares_rank"].to_dict() == {"a": False, "b": True, "d": True, "e": False}
    table = display(out.reset_index(), COMPARISON_COLUMNS, "t", "")
    ranks = [row[table.columns.index("rank")] for row in table.rows]
    assert ranks == ["1", "2=", "2=", "4"]


def test_rank_adjusts_for_the_number_of_comparisons():
    """Two rows, each 6 discordant images worse than the best (exact McNemar p = 2/64 = 0.03125):
    alone, such a row differs from the best; as one of two comparisons, Holm's adjustment (x2 =
    0.0625) leaves both not distinguishable from it, and the ranking says so."""
    from reports.ranking import rank
    from reports.tables import summarize, tidy

    label = np.arange(100) % 10
    def wrong(*images):
        p = label.copy()
        p[list(images)] = (p[list(images)] + 1) % 10
        return p
    rows, preds = [], {}
    for tid, model, images in ((1, "a", (0, 1)), (2, "b", (0, 1, 2, 3, 4, 5, 6, 7)), (3, "c", (0, 1, *range(20, 26)))):
        rows.append(dict(id=tid, study="main", dataset="d", model=model, seed=0, status="done",
                         top1_err=len(images) / 100, n_test=100, epochs=5, config={}, metrics={}, history={}))
        preds[tid] = (wrong(*images), label)
    results = tidy(pd.DataFrame(rows))
    both = rank(summarize(results), results, preds).set_index("model")
    assert both.loc[["b", "c"], "p_vs_best_raw"].tolist() == pytest.approx([2 / 64, 2 / 64], abs=1e-15)
    assert both.loc[["b", "c"], "p_vs_best"].tolist() == pytest.approx([4 / 64, 4 / 64], abs=1e-15)
    assert both["rank"].to_dict() == {"a": 1, "b": 1, "c": 1} and both["tied_with_best"].all()
    two = results[results["model"] != "c"]
    alone = rank(summarize(two), two, preds).set_index("model")
    assert alone.loc["b", "p_vs_best"] == pytest.approx(2 / 64, abs=1e-15)
    assert alone["rank"].to_dict() == {"a": 1, "b": 2} and not alone["tied_with_best"].any()


def test_schema_1_store_reports_with_intervals_and_no_paired_test(tmp_path):
    """A store written before the validation split and the stored predictions (schema 1): the
    report still ranks it, fills the Wilson interval from n_test, and says what the rows lack."""
    import sqlite3

    from compare.stats import wilson
    from compare.store import Store
    from reports.render import build_report

    config = {"model": "lenet5", "dataset": "mnist5k", "seed": 0, "epochs": 3, "study": "main"}
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE trials (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, model TEXT, dataset TEXT,
            seed INTEGER, config TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, metrics TEXT, history TEXT,
            started_at TEXT, finished_at TEXT, pid INTEGER);
        INSERT INTO meta VALUES ('schema_version', '1');""")
    for model, err in (("lenet5", 0.03), ("resnet20", 0.019)):
        cfg = {**config, "model": model}
        metrics = {"top1_err": err, "top1_acc": 1 - err, "n_train": 4000, "n_test": 1000, "classes": 10}
        conn.execute("INSERT INTO trials (key, model, dataset, seed, config, status, metrics, history) "
                     "VALUES (?, ?, 'mnist5k', 0, ?, 'done', ?, '{}')",
                     (Store.key(cfg), model, json.dumps(cfg), json.dumps(metrics)))
    conn.commit()
    conn.close()
    build_report(tmp_path, figures=False, profiles=False)
    md = (tmp_path / "report.md").read_text()
    rows = _md_table(md, "mnist5k: one row per model").set_index("model")
    assert rows["rank"].to_dict() == {"resnet20": "1", "lenet5": "2"}  # no predictions: no tie claimed
    assert rows.loc["lenet5", "train / val / test images"] == "4,000 / ? / 1,000"
    lo, hi = wilson(30, 1000)
    assert rows.loc["lenet5", "95% CI (%)"] == f"{lo * 100:.2f}–{hi * 100:.2f}" == "2.11–4.25"
    assert "Rows with '?' validation images were trained before this toolkit kept a validation split" in md
    assert "significantly" not in md.split("## Comparison")[0]  # the overview claims no significance


def test_the_overview_counts_every_row_of_a_store_with_bench_rows(tmp_path):
    """A run directory that also holds `compare bench` rows: the headline's total counts the rows its
    done/failed counts count (it said "1 trials: 2 done")."""
    from compare.store import Store
    from reports.render import build_report

    with Store(tmp_path / "results.sqlite") as store:
        cfg = {"model": "lenet5", "dataset": "mnist5k", "seed": 0, "study": "main"}
        store.finish(store.begin(cfg), {"top1_err": 0.03, "top1_acc": 0.97, "n_train": 4000, "n_test": 1000,
                                        "classes": 10}, {})
        store.fail(store.begin({**cfg, "seed": 1}), "ValueError: x")
        for b in (1, 2):
            store.finish(store.begin({"study": "bench", "model": "lenet5", "batch_size": b, "width": 1.0}),
                         {"time_ms": 1.0 * b, "img_per_s": 1000.0, "latency_ms": 1.0, "peak_mem_mb": 900.0,
                          "gflops": 0.8, "macs": 416_520, "params": 61_706})
    build_report(tmp_path, figures=False, profiles=False)
    overview = (tmp_path / "report.md").read_text().split("\n")[2]
    assert overview.startswith("4 trials, 2 of them bench rows: 3 done, 1 failed. ")
