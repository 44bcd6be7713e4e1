"""Feature extractors as registry entries: ``auto`` and the refusals read their declarations,
and no code in the metrics, aggregation or report packages tests an extractor's name."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import bench.metrics as metrics
from bench.data import DATASETS
from bench.errors import MetricsError
from bench.metrics import EXTRACTORS, Extractor, check_eval_settings, resolve_extractor
from bench.metrics.extractor_registry import ExtractorProvenance, auto_extractor, usable_extractors
from bench.registry import Origin

ROOT = Path(__file__).resolve().parents[2]


def info(name):
    return DATASETS.get(name)


def test_valid_extractors_derive_from_the_registry():
    assert metrics.VALID_EXTRACTORS == tuple(sorted(["auto", "none", *EXTRACTORS.names()]))
    assert {"classifier", "inception", "inception-offline", "modes"} <= set(EXTRACTORS.names())
    assert metrics.VALID_METRICS == ("fid", "isc", "kid", "prc")


@pytest.mark.parametrize("dataset, expected", [("ring8", "modes"), ("grid25", "modes"), ("mnist-5k", "classifier"),
                                               ("mnist", "classifier"), ("celeba", "inception-offline")])
def test_auto_per_dataset_kind(dataset, expected):
    assert resolve_extractor("auto", info(dataset)) == expected
    assert auto_extractor(info(dataset)) == expected


def test_declarations():
    cls, off, inc, modes = (EXTRACTORS.get(n) for n in ("classifier", "inception-offline", "inception", "modes"))
    assert cls.needs_labels and cls.logits and cls.dataset_classes and "dataset_classes" in cls.capabilities
    assert not off.logits and off.requires and off.no_logits_note
    assert inc.logits and not inc.needs_labels and inc.auto_priority is None
    assert modes.data_kind == "points" and modes.mixture_modes and modes.fidelity_name is None
    assert all(ex.label for _, ex in EXTRACTORS.items())


def test_fidelity_names_are_registered_with_torch_fidelity():
    import bench.metrics.extractors  # noqa: F401  (registers ganbench's extractors with torch-fidelity)
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    for _, ex in EXTRACTORS.items():
        if ex.fidelity_name is not None:
            assert ex.fidelity_name in FEATURE_EXTRACTORS_REGISTRY, ex.name


def test_label_needing_extractor_refused_on_unlabelled_data():
    with pytest.raises(MetricsError) as ei:
        resolve_extractor("classifier", info("celeba"))
    msg = str(ei.value)
    assert "'classifier' needs class labels" in msg and "'celeba' is unlabelled" in msg
    assert "'inception-offline' or 'inception'" in msg  # the ones that work on it


def test_wrong_kind_refused_naming_the_usable_ones():
    with pytest.raises(MetricsError, match=r"'modes' is for 2-D points; dataset 'mnist-5k' holds images: "
                                           r"use 'classifier', 'inception-offline' or 'inception'"):
        resolve_extractor("modes", info("mnist-5k"))
    with pytest.raises(MetricsError, match=r"'inception' is for images; dataset 'ring8' holds 2-D points: use 'modes'"):
        resolve_extractor("inception", info("ring8"))
    with pytest.raises(MetricsError, match=r"unknown extractor 'incepshun'; valid: auto, classifier"):
        resolve_extractor("incepshun", info("ring8"))
    assert resolve_extractor("none", info("ring8")) == "none"


def test_check_eval_settings():
    base = dict(extractor="auto", metrics=["fid", "kid"], num_samples=500, kid_subset_size=100)
    check_eval_settings(base, info("ring8"))
    with pytest.raises(MetricsError, match="kid_subset_size = 1000"):
        check_eval_settings({**base, "kid_subset_size": 1000}, info("ring8"))
    with pytest.raises(MetricsError, match="needs class labels"):
        check_eval_settings({**base, "extractor": "classifier"}, info("celeba"))
    with pytest.raises(MetricsError, match="unknown metric 'fidd'"):
        check_eval_settings({**base, "metrics": ["fidd"]}, info("ring8"))
    with pytest.raises(MetricsError, match="unknown key 'nope'"):
        check_eval_settings({**base, "nope": 1}, info("ring8"))
    check_eval_settings({**base, "extractor": "none", "metrics": ["fidd"]}, info("ring8"))  # nothing evaluated


@pytest.fixture
def extra_extractor(monkeypatch):
    """A plugin-style entry: raw coordinates, preferred by 'auto' on 2-D data."""
    ex = Extractor(name="test-raw-points", label="raw points (test)", data_kind="points", auto_priority=9,
                   provenance=lambda ctx: ExtractorProvenance({"features": "test", "feature_dim": 2}))
    EXTRACTORS.names()  # plugins first
    monkeypatch.setitem(EXTRACTORS._items, ex.name, ex)
    monkeypatch.setitem(EXTRACTORS._origins, ex.name, Origin(__name__))
    return ex


def test_a_registered_extractor_is_valid_and_can_win_auto(extra_extractor):
    assert extra_extractor.name in metrics.VALID_EXTRACTORS
    assert resolve_extractor("auto", info("ring8")) == extra_extractor.name
    assert [e.name for e in usable_extractors(info("ring8"))][:2] == [extra_extractor.name, "modes"]
    assert resolve_extractor("auto", info("mnist-5k")) == "classifier"  # images: unchanged
    from bench.data import load
    from bench.metrics import evaluate

    ring = load("ring8", "test").x
    s = evaluate(lambda n: ring[:n], "ring8", dict(extractor="auto", num_samples=200, metrics=["fid", "isc"]))
    assert s.provenance["extractor"] == extra_extractor.name and s.provenance["features"] == "test"
    assert "frechet_inception_distance" in s.values and "modes_covered" not in s.values  # no mixture_modes
    assert "logits" in s.provenance["unavailable"]["isc"]


def test_declaration_consistency_is_checked():
    with pytest.raises(ValueError, match="data_kind"):
        Extractor(name="x", label="x", data_kind="audio")
    with pytest.raises(ValueError, match="dataset_classes"):
        dataclasses.replace(EXTRACTORS.get("inception"), dataset_classes=True)


# ---- no code tests an extractor's name ---------------------------------------------------------
def _compares_with_name(node: ast.Compare, names) -> bool:
    """``x == "name"``, ``"name" != x``, ``x in ("name", ...)``; a string on the left of ``in``
    (``"modes" in extras``) tests a key, not a name."""
    operands = [node.left, *node.comparators]
    for op, left, right in zip(node.ops, operands, operands[1:]):
        if isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)):
            if any(isinstance(s, ast.Constant) and s.value in names for s in (left, right)):
                return True
        elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            if any(isinstance(e, ast.Constant) and e.value in names for e in right.elts):
                return True
    return False


def _name_comparisons(names, files):
    hits = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if not isinstance(node, ast.Compare):
                continue
            if _compares_with_name(node, names):
                hits.append(f"{f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}:{node.lineno}: {ast.unparse(node)}")
    return hits


def test_no_comparison_with_an_extractor_name():
    names = set(EXTRACTORS.names())
    files = sorted((ROOT / "bench" / "metrics").rglob("*.py")) + sorted((ROOT / "bench" / "aggregate").rglob("*.py")) \
        + sorted((ROOT / "bench" / "report").rglob("*.py"))
    hits = _name_comparisons(names, files)
    assert not hits, "ask the extractor's registry entry instead of testing its name:\n" + "\n".join(hits)


def test_the_name_check_finds_what_it_is_for(tmp_path):
    f = tmp_path / "x.py"
    f.write_text('if extractor == "classifier": pass\nif name in ("inception", "y"): pass\nif x == "other": pass\n'
                 'if "modes" in extras: pass\nif "inception" != ex: pass\n')
    hits = _name_comparisons({"classifier", "inception", "modes"}, [f])
    assert [h.split(":")[1] for h in hits] == ["1", "2", "5"]
