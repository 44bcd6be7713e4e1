"""Published references: the shipped Lucic et al. 2018 table and the comparison."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench import aggregate as agg
from bench import references
from bench.report.captions import comparison_caption

FID = "metric.best.frechet_inception_distance"


def test_lucic2018_table_as_published():
    ref = references.load("lucic2018")
    assert "lucic2018" in references.available()
    assert "Are GANs Created Equal" in ref.citation and "@inproceedings" in ref.bibtex
    assert ref.metric == "frechet_inception_distance"
    assert set(ref.comparable_extractors) == {"inception", "inception-offline"}
    t = ref.table
    assert len(t) == 8 * 4
    assert set(t["dataset"]) == {"mnist", "fashion-mnist", "cifar10", "celeba"}
    # spot values from Table 2
    assert ref.value("ns", "mnist") == (6.8, 0.5, False)
    assert ref.value("lsgan", "cifar10") == (87.1, 47.5, False)
    assert ref.value("wgan-gp", "celeba") == (30.0, 1.0, False)
    assert ref.value("began", "fashion-mnist") == (22.9, 0.9, False)
    # * cells: LSGAN on MNIST and CelebA only
    starred = t[t["outliers_excluded"]]
    assert sorted(zip(starred["loss"], starred["dataset"])) == [("lsgan", "celeba"), ("lsgan", "mnist")]
    # our names map onto the paper's rows, the VAE baseline included
    assert ref.rows["WGAN GP"] == "wgan-gp" and ref.rows["MM GAN"] == "mm" and ref.rows["VAE"] == "vae"
    vae = t[t["row_label"] == "VAE"]
    assert (vae["loss"] == "vae").all() and vae["mean"].tolist() == [23.8, 58.7, 155.7, 85.7]
    with pytest.raises(KeyError, match="available"):
        references.load("nope")


def _runs(extractor="inception", n_fake=10000):
    rows = []
    data = {
        ("ns", "mnist"): [7.5, 7.7],  # mean 7.6; |7.6 - 6.8| = 0.8 <= 2 * 0.5 -> within
        ("wgan-gp", "mnist"): [30.0, 32.0],  # mean 31; |31 - 20.3| = 10.7 > 2 * 5.0 -> outside
        ("lsgan", "mnist"): [8.9, 9.1],  # mean 9.0; |9.0 - 7.8| = 1.2 = 2 * 0.6 -> within (boundary)
        ("acgan", "mnist"): [12.0, 13.0],  # not in the paper
        ("ns", "ring8"): [1.0, 2.0],  # not a published dataset: not compared
    }
    for (loss, ds), vals in data.items():
        for seed, v in enumerate(vals):
            rows.append({"run_id": f"{loss}-{ds}-{seed}", "loss": loss, "dataset": ds, "seed": seed,
                         "status": "done", FID: v, "eval.extractor": extractor, "eval.n_fake": n_fake,
                         "eval.n_real": 10000, "eval.selection": "best-over-checkpoints"})
    return pd.DataFrame(rows)


def _get(comp, loss, ds):
    c = comp.cells
    r = c[(c["loss"].fillna("") == loss) & (c["dataset"] == ds)] if loss else c[(c["row_label"] == "VAE") & (c["dataset"] == ds)]
    assert len(r) == 1
    return r.iloc[0]


@pytest.mark.parametrize("extractor", ["inception", "inception-offline"])
def test_compare_marks_within_and_outside(extractor):
    runs = _runs(extractor)
    comp = agg.compare_reference(agg.aggregate(runs, "fid", n_boot=100), "lucic2018", runs)
    assert comp.comparable and comp.reason == "" and comp.warnings == []
    ns = _get(comp, "ns", "mnist")
    assert ns["ours_mean"] == pytest.approx(7.6) and ns["pub_mean"] == 6.8 and ns["within"] is True
    assert _get(comp, "wgan-gp", "mnist")["within"] is False
    ls = _get(comp, "lsgan", "mnist")
    assert ls["within"] is True and ls["outliers_excluded"]
    assert _get(comp, "", "mnist")["status"] == "not run"  # VAE
    assert _get(comp, "mm", "mnist")["status"] == "not run"
    ac = _get(comp, "acgan", "mnist")
    assert ac["status"] == "not published" and ac["within"] is None and math.isnan(ac["pub_mean"])
    assert set(comp.cells["dataset"]) == {"mnist"}  # ring8 never compared, no unrun published datasets
    assert "Lucic et al. 2018" in comparison_caption(comp)


def test_compare_refuses_incomparable_extractor():
    runs = _runs("classifier")
    comp = agg.compare_reference(agg.aggregate(runs, "fid", n_boot=100), "lucic2018", runs)
    assert not comp.comparable and comp.cells.empty
    assert "'classifier' extractor" in comp.reason and "2015-12-05" in comp.reason
    assert comparison_caption(comp).startswith("No comparison with Lucic et al. 2018")
    # mixing a comparable and an incomparable extractor is refused too
    mixed = pd.concat([_runs("inception"), _runs("classifier").assign(dataset="cifar10")])
    comp = agg.compare_reference(agg.aggregate(mixed, "fid", n_boot=100), "lucic2018", mixed)
    assert not comp.comparable and "classifier" in comp.reason


def test_compare_refuses_other_metric():
    runs = _runs().rename(columns={FID: "metric.best.inception_score_mean"})
    comp = agg.compare_reference(agg.aggregate(runs, "is", n_boot=100), "lucic2018", runs)
    assert not comp.comparable and "reports FID" in comp.reason and "inception_score_mean" in comp.reason


def test_compare_warns_about_sample_count():
    runs = _runs(n_fake=5000)
    comp = agg.compare_reference(agg.aggregate(runs, "fid", n_boot=100), "lucic2018", runs)
    assert comp.comparable
    assert any("5000 generated samples, published 10000" in w for w in comp.warnings)


def test_vae_runs_are_compared_with_the_published_vae_row():
    runs = _runs()
    vae = pd.DataFrame([{**runs.iloc[0].to_dict(), "run_id": f"vae-mnist-{s}", "loss": "vae", "seed": s, FID: v}
                        for s, v in enumerate([24.0, 24.4])])  # mean 24.2; |24.2 - 23.8| = 0.4 <= 2 * 0.6
    runs = pd.concat([runs, vae], ignore_index=True)
    comp = agg.compare_reference(agg.aggregate(runs, "fid", n_boot=100), "lucic2018", runs)
    row = _get(comp, "vae", "mnist")
    assert row["row_label"] == "VAE" and row["ours_mean"] == pytest.approx(24.2) and row["pub_mean"] == 23.8
    assert row["within"] is True
