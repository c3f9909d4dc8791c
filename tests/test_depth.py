"""The depth study (python -m compare depth): bad input, the plan, a tiny real run into the store
(both series, resumable), its plots and report section; findings and the cifar10 reference series."""

from __future__ import annotations

import math
import os
import re
import sys

import pandas as pd
import pytest

from compare import depth
from common.cli import run_main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _independent import recount  # noqa: E402

TINY = ["--dataset", "shapes", "--limit", "32", "--width", "0.25", "--epochs", "1", "--batch-size", "16", "--quiet"]


def cli(*argv: str) -> int:
    from compare.__main__ import main

    return run_main(main, list(argv))


# -- bad input: one line on stderr, exit code 2 --------------------------------------------------------

@pytest.mark.parametrize("value, words", [
    ("10", ["depth 10", "6n+2"]),
    ("8,15", ["depth 15", "6n+2"]),
    ("8,x", ["'x'", "not an integer"]),
    ("8.5", ["'8.5'", "not an integer"]),
    ("", ["empty"]),
    (" , ", ["empty"]),
    ("2", ["depth 2", "6n+2 with n >= 1"]),
    ("26", ["depth 26", "plain26"]),
])
def test_bad_depths_one_line_exit_2(value, words, capsys, tmp_path):
    assert cli("depth", "--depths", value, "--out", str(tmp_path / "x")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "x").exists()  # rejected before any training


def test_bad_budget_settings_exit_2(capsys, tmp_path):
    assert cli("depth", "--depths", "8", "--epochs", "0", "--out", str(tmp_path)) == 2
    assert "--epochs" in capsys.readouterr().err
    assert cli("depth", "--depths", "8", "--limit", "some", "--out", str(tmp_path)) == 2
    assert "--limit" in capsys.readouterr().err


def test_parse_depths_sorted_unique_and_accepted():
    assert depth.parse_depths("56, 8,20,8") == [8, 20, 56]
    assert depth.parse_depths([14, 8]) == [8, 14]
    assert depth.accepted_depths() == [8, 14, 20, 32, 44, 56, 110]
    with pytest.raises(ValueError, match="no depths"):
        depth.parse_depths([])


def test_plan_pairs_one_recipe_same_seeds_and_budget():
    configs = depth.plan([14, 8], seeds=[0, 1], dataset="shapes")
    assert [(c["model"], c["seed"]) for c in configs] == [
        ("plain8", 0), ("plain8", 1), ("resnet8", 0), ("resnet8", 1),
        ("plain14", 0), ("plain14", 1), ("resnet14", 0), ("resnet14", 1)]
    shared = {k: {c[k] for c in configs} for k in configs[0] if k not in ("model", "seed")}
    assert all(len(v) == 1 for v in shared.values()), shared  # one recipe and budget for every trial
    c = configs[0]
    assert c["study"] == "depth" and c["dataset"] == "shapes"
    assert (c["width"], c["limit"], c["epochs"]) == (0.5, 2000, 8)  # the README's default budget
    assert depth.plan([8], width=0.25, epochs=2)[0]["width"] == 0.25
    assert depth.plan([8], limit=depth.ALL)[0]["limit"] is None
    with pytest.raises(ValueError, match="study"):
        depth.plan([8], study="main")


# -- a tiny real run -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import contextlib
    import io

    out = tmp_path_factory.mktemp("depth")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli("depth", "--depths", "8,14", *TINY, "--no-report", "--out", str(out))
    return out, code, buf.getvalue()


def test_tiny_run_stores_both_series(tiny_run):
    from compare.store import Store

    out, code, text = tiny_run
    assert code == 0, text
    with Store(out / "results.sqlite") as store:
        trials = store.trials()
    assert sorted(trials["model"]) == ["plain14", "plain8", "resnet14", "resnet8"]
    assert set(trials["study"]) == {"depth"} and set(trials["status"]) == {"done"}
    # the stored errors are the saved models' mistakes on the 29 training and 32 test images
    # (--limit 32; 3 of the 32 training images, round(3.2), are held out for validation)
    by_model = trials.set_index("model")
    counted = {m: recount(out, by_model.loc[m]) for m in by_model.index}
    for m, r in counted.items():
        assert (r.n_train, r.n_val, r.n_test) == (29, 3, 32), m
        assert by_model.loc[m, "train_err_eval"] == pytest.approx(r.train_mistakes / 29, abs=1e-12), m
        assert by_model.loc[m, "top1_err"] == pytest.approx(r.top1_mistakes / 32, abs=1e-12), m
    s = depth.summarise(trials)
    assert list(zip(s["depth"], s["kind"])) == [(8, "plain"), (8, "residual"), (14, "plain"), (14, "residual")]
    assert s["model"].tolist() == ["plain8", "resnet8", "plain14", "resnet14"]
    for i, m in enumerate(s["model"]):  # one seed: the summary holds each trial's own errors
        assert s.loc[i, "train_err"] == pytest.approx(1 - by_model.loc[m, "history"]["accuracy"][-1], abs=1e-12)
        assert s.loc[i, "train_err_eval"] == pytest.approx(counted[m].train_mistakes / 29, abs=1e-12), m
        assert s.loc[i, "test_err"] == pytest.approx(counted[m].top1_mistakes / 32, abs=1e-12), m
    # width 0.25 (4, 8, 16 channels), 32x32x3 in, 8 classes; conv (no bias) + BN (2 trainable per
    # channel) per layer: depth 8: 108+8 + 2x(144+8) + 288+576+2x16 + 1152+2304+2x32 + 16x8+8;
    # depth 14: one more block per stage: + 2x(144+8) + 2x(576+16) + 2x(2304+32). Option-A
    # shortcuts add no params, so plain and residual nets match.
    assert s["params"].tolist() == [4_972, 4_972, 11_132, 11_132]
    c = depth.curves(trials)
    assert len(c) == 4 and set(c["epoch"]) == {1}
    # the per-epoch curves are validation error (3 held-out training images), never the test split
    assert "test_err" not in c.columns
    assert c.set_index("model")["val_err"].to_dict() == {
        m: pytest.approx(1 - by_model.loc[m, "history"]["val_accuracy"][0], abs=1e-12) for m in by_model.index}
    assert {m: round(by_model.loc[m, "val_err"] * 3) for m in by_model.index} == {
        m: counted[m].val_mistakes for m in by_model.index}
    # the command's printout: per-depth table and findings, then the run's one-line summary last
    assert re.search(r"^\s+8\s", text, re.M) and re.search(r"^\s+14\s", text, re.M), text
    assert "plain-14" in text and "resnet-14" in text
    assert "Depth study: shapes, width 0.25, <= 32 images/split, 1 epoch, recipe default" in text
    assert text.strip().splitlines()[-1].startswith("4 trained, 0 already done, 0 failed of 4 trial(s) in "), text


def test_tiny_run_resumes(tiny_run, capsys):
    out, _, _ = tiny_run
    assert cli("depth", "--depths", "8,14", *TINY, "--no-report", "--out", str(out)) == 0
    assert "0 trained, 4 already done" in capsys.readouterr().out


def test_tiny_run_report_has_depth_figures_and_section(tiny_run):
    from matplotlib.image import imread

    from reports.render import build_report

    out, _, _ = tiny_run
    rep = build_report(out, profiles=False)
    for name in ("depth_errors", "depth_curves", "depth_pairs"):
        assert name in rep.figures, rep.notes
        png, svg = out / "figures" / f"{name}.png", out / "figures" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = imread(png)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 400
        assert "<svg" in svg.read_text()[:2000]
    md = (out / "report.md").read_text()
    section = md.split("## Depth study: plain vs residual nets", 1)[1].split("\n## ", 1)[0]
    assert "| 8 |" in section and "| 14 |" in section
    # each test error with its 95% Wilson interval on the 32 test images (errors checked against the
    # saved models' own mistakes in test_tiny_run_stores_both_series)
    from compare.stats import wilson
    from compare.store import Store

    with Store(out / "results.sqlite") as store:
        err = store.trials().set_index("model")["top1_err"]
    rows = [ln.split("|")[1:-1] for ln in section.splitlines() if ln.startswith("| 8 |")]
    header = [c.strip() for c in next(ln for ln in section.splitlines() if ln.startswith("| depth |")).split("|")[1:-1]]
    for col, model in (("plain: test", "plain8"), ("ResNet: test", "resnet8")):
        k = round(err[model] * 32)
        lo, hi = wilson(k, 32)
        assert rows[0][header.index(col)].strip() == f"{k / 32 * 100:.2f} ({lo * 100:.2f}–{hi * 100:.2f})", col
    assert "plain-14" in section and "resnet-14" in section
    assert "inference mode" in section and "last epoch" in section
    assert "Depth study" in (out / "report.html").read_text()
    assert not any("depth" in n for n in rep.notes), rep.notes


# -- without training ----------------------------------------------------------------------------------

def _summary(dataset: str, plain: dict, residual: dict, n_train: float = 3600) -> pd.DataFrame:
    rows = [dict(dataset=dataset, setting="s", depth=d, kind=k, model=f"{'plain' if k == 'plain' else 'resnet'}{d}",
                 seeds=1, params=1, train_err=e, train_err_std=math.nan, train_err_eval=e,
                 train_err_eval_std=math.nan, test_err=e + 0.01, test_err_std=math.nan, train_s=1.0,
                 n_train=n_train, n_test=1000)
            for k, errs in (("plain", plain), ("residual", residual)) for d, e in errs.items()]
    return pd.DataFrame(rows, columns=depth.SUMMARY_COLUMNS)


def test_findings_in_numbers_call_only_what_the_interval_supports():
    # 3,600 training images: plain-56 148 errors vs plain-20 83, resnet-56 43. The 95% intervals of
    # the differences (Newcombe's method 10, computed by hand from the two Wilson intervals):
    # +1.0 to +2.6 points and -3.7 to -2.2 points: both exclude zero
    s = _summary("mnist5k", {20: 0.023, 56: 0.041}, {20: 0.02, 56: 0.012})
    text = " ".join(depth.findings(s))
    assert ("plain-56 training error (training set, inference mode) 4.1% vs plain-20 2.3%: degradation: the deeper "
            "plain net trains worse (difference +1.8 points, 95% CI +1.0 to +2.6).") in text
    assert ("resnet-56 1.2% vs plain-56 4.1%: the residual net is below the plain net of the same depth "
            "(difference -2.9 points, 95% CI -3.7 to -2.2) (resnet-20 2.0%).") in text
    # 400 images: 12 vs 20 errors (-4.9 to +0.8) and 14 vs 12 (-2.1 to +3.1): neither is called
    s = _summary("mnist5k", {20: 0.05, 56: 0.03}, {20: 0.04, 56: 0.035}, n_train=400)
    text = " ".join(depth.findings(s))
    assert ("3.0% vs plain-20 5.0%: no difference these images can show (difference -2.0 points, 95% CI -4.9 "
            "to +0.8).") in text
    assert "the residual net is not distinguishable from the plain net of the same depth (difference +0.5" in text
    # the last epoch's running training error is a mean over changing weights, not a count of one
    # model's mistakes: no interval over the images, its order said to be untested
    text = " ".join(depth.findings(s, "train_err"))
    assert ("plain-56 final training error (last epoch, training mode) 3.0% vs plain-20 5.0%: no degradation at this "
            "budget: the deeper plain net trains better (a running mean over the epoch's changing weights, not one "
            "model's mistakes: not tested).") in text
    assert "95% CI" not in text and "One seed" not in text
    # a store without image counts: the order is reported, and said to be untested
    s = _summary("mnist5k", {20: 0.05, 56: 0.03}, {20: 0.04, 56: 0.035}, n_train=math.nan)
    text = " ".join(depth.findings(s))
    assert "no degradation at this budget: the deeper plain net trains better (image counts unknown: not tested)" in text


def test_the_lowest_error_is_called_only_against_the_next_lowest():
    """1,800 training images: resnet-56 2 errors vs resnet-20 6 (Newcombe's interval -0.62 to +0.12
    points holds zero), plain-20 41 vs plain-56 74 (it does not). With one seed, the findings say
    what the intervals leave out."""
    s = _summary("mnist5k", {8: 0.2, 20: 0.023, 56: 0.041}, {8: 0.2, 20: 0.0033, 56: 0.0011}, n_train=1800)
    lines = depth.findings(s)
    assert "Lowest resnet training error: depth 56 (0.1%), not distinguishable from depth 20 (0.3%)." in lines
    assert "Lowest plain training error: depth 20 (2.3%); plain-56 4.1%." in lines
    assert ("One seed per net: the intervals cover the sampling of the training images, not the variation between "
            "training runs (--seeds 0,1,2 tests that too).") in lines
    s["seeds"] = 3
    assert not any(line.startswith("One seed") for line in depth.findings(s))


def test_degradation_near_chance_is_said_to_be_slow_convergence():
    """plain-56 at 85.3% training error on 10 classes (chance: 90%), as in the default study: the
    finding calls the degradation and says that the deep net has barely started to learn; at 4.1%
    it does not."""
    s = _summary("mnist5k", {8: 0.2, 20: 0.061, 56: 0.853}, {8: 0.2, 20: 0.032, 56: 0.001}, n_train=1800)
    s["classes"] = 10
    line = depth.findings(s)[0]
    assert line.endswith("degradation: the deeper plain net trains worse (difference +79.2 points, 95% CI +77.1 to "
                         "+81.0). plain-56 is near chance (90.0% error for 10 classes): at this budget it has barely "
                         "started to learn, so the gap measures how slowly it starts, not the gap after convergence "
                         "(a few points in the paper)."), line
    s = _summary("mnist5k", {8: 0.2, 20: 0.023, 56: 0.041}, {8: 0.2, 20: 0.02, 56: 0.012}, n_train=3600)
    s["classes"] = 10
    assert "near chance" not in " ".join(depth.findings(s))


def test_interval_bounds_keep_their_sign():
    """A bound that one decimal rounds to zero keeps the digits that show its sign: "CI -0.0 to
    +13.4" read as a typo, and hid that the interval holds zero."""
    assert [depth._points(x) for x in (0.134, -0.029, -0.0004, 0.00049, -0.00001, -5e-7, 0.0, -0.0, 0.0005)] == [
        "+13.4", "-2.9", "-0.04", "+0.05", "-0.001", "-0.00005", "+0.0", "+0.0", "+0.1"]


def test_findings_with_seeds_call_only_what_the_seed_spread_supports_too():
    """3 seeds per net, the mean errors of the first test: the image intervals exclude zero as
    there, but plain-56 vs plain-20 does not stand out of the spread between seeds. The seed
    intervals: scipy's Welch interval (``ttest_ind(equal_var=False)``) on seeds m - sd, m, m + sd,
    recomputed at the degrees of freedom rounded down (2.62 -> 2 and 2.94 -> 2)."""
    sd = {("plain", 20): 0.010, ("plain", 56): 0.004, ("residual", 20): 0.002, ("residual", 56): 0.002}
    s = _summary("mnist5k", {20: 0.023, 56: 0.041}, {20: 0.02, 56: 0.012})
    s["seeds"] = 3
    s["train_err_eval_std"] = [sd[(k, d)] for k, d in zip(s["kind"], s["depth"])]
    text = " ".join(depth.findings(s))
    assert ("4.1% vs plain-20 2.3%: no difference these images and seeds can show (difference +1.8 points, 95% CI "
            "+1.0 to +2.6 over the images, -0.9 to +4.5 over the 3 and 3 seeds).") in text
    assert ("resnet-56 1.2% vs plain-56 4.1%: the residual net is below the plain net of the same depth (difference "
            "-2.9 points, 95% CI -3.7 to -2.2 over the images, -4.0 to -1.8 over the 3 and 3 seeds)") in text
    # without image counts the seeds alone decide
    s["n_train"] = math.nan
    text = " ".join(depth.findings(s))
    assert ("the residual net is below the plain net of the same depth (difference -2.9 points, 95% CI -4.0 to -1.8 "
            "over the 3 and 3 seeds; image counts unknown)") in text
    assert "no difference these images and seeds can show (difference +1.8 points, 95% CI -0.9 to +4.5" in text
    # spreads unknown (NaN) although 3 seeds: the images alone decide, and the text names no seeds
    s["n_train"], s["train_err_eval_std"] = 3600, math.nan
    text = " ".join(depth.findings(s))
    assert ("4.1% vs plain-20 2.3%: degradation: the deeper plain net trains worse (difference +1.8 points, 95% CI "
            "+1.0 to +2.6).") in text and "seeds" not in text
    s = _summary("mnist5k", {20: 0.05, 56: 0.03}, {20: 0.04, 56: 0.035}, n_train=400)
    s["seeds"] = 3  # train_err_std NaN
    assert ("3.0% vs plain-20 5.0%: no difference these images can show (difference -2.0 points, 95% CI -4.9 to "
            "+0.8).") in " ".join(depth.findings(s))
    # the running training error with its seed spread: the seeds alone test it
    s["train_err_std"] = [0.002] * len(s)
    assert ("3.0% vs plain-20 5.0%: no degradation at this budget: the deeper plain net trains better (difference "
            "-2.0 points, 95% CI ") in " ".join(depth.findings(s, "train_err"))


def test_cifar10_reference_series_is_the_papers():
    from reports.depth import plot_depth_errors

    depths = {20: 0.1, 32: 0.11, 56: 0.12}
    fig = plot_depth_errors(_summary("cifar10", depths, depths), "cifar10", "s")
    ref = [ln for ln in fig.axes[1].get_lines() if "published" in str(ln.get_label())]
    assert len(ref) == 1
    assert list(ref[0].get_xdata()) == [20, 32, 56]
    assert list(ref[0].get_ydata()) == [8.75, 7.51, 6.97]  # He et al. 2015, table 6 (CIFAR-10 test error, %)
    fig = plot_depth_errors(_summary("mnist5k", depths, depths), "mnist5k", "s")
    assert not [ln for ln in fig.axes[1].get_lines() if "published" in str(ln.get_label())]


def test_no_depth_trials_no_section():
    from reports.depth import section, study_frames

    trials = pd.DataFrame([dict(id=1, model="resnet20", status="done", seed=0, dataset="mnist5k",
                                config={"study": "main"}, history={}, metrics={})])

    class Data:
        pass

    data = Data()
    data.trials = trials
    assert study_frames(trials) is None and section(data) == []
    assert depth.summarise(trials).empty


def test_depth_figures_carry_no_baked_caption():
    """The definitions and the setting are in the report's captions, not drawn into the PNGs."""
    from reports.depth import plot_depth_curves, plot_depth_errors, plot_depth_pairs

    depths = {8: 0.1, 14: 0.12}
    curves = pd.DataFrame([dict(kind=k, depth=d, epoch=e, train_err=0.5 / e, val_err=0.6 / e)
                           for k in ("plain", "residual") for d in depths for e in (1, 2)])
    for fig in (plot_depth_errors(_summary("mnist5k", depths, depths), "mnist5k", "setting s"),
                plot_depth_curves(curves, "setting s"), plot_depth_pairs(curves, "setting s")):
        assert not fig.texts and fig._suptitle is None
        drawn = [t.get_text() for ax in fig.axes for t in ax.texts + [ax.title]]
        assert not any("setting s" in t or "running mean over that epoch" in t for t in drawn)
