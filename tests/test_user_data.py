"""User datasets (bench.data.user): image folders and array files named by their path, loaded
into the same tensors as the built-in datasets, identified by the hash of their files."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data import DATASETS, dataset_cache_key, load, splits_of
from bench.data.user import fixed_test_mask
from bench.errors import ConfigError, UserDatasetError
from bench.validate import resolve, spec_from_dict

COLOURS = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}  # sorted: class 0, 1, 2


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A cache folder of the test's own; user datasets forgotten afterwards."""
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    DATASETS.forget_user()


def solid(path, rgb, size=(16, 16), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, rgb)
    (img.convert("L") if mode == "L" else img).save(path)


def class_folder(root, n=20, size=(16, 16)):
    """3 classes x ``n`` images of one solid colour each (shades of the class colour)."""
    for name, rgb in COLOURS.items():
        for i in range(n):
            solid(root / name / f"{i:02d}.png", tuple(max(0, v - 3 * i) for v in rgb), size)
    return root


def bump_mtime(path):
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_folder_with_class_folders_loads_labelled_uint8_with_a_fixed_stratified_split(tmp_path):
    root = class_folder(tmp_path / "colours")
    name = f"folder:{root}"
    info = DATASETS.get(name)
    assert (info.kind, info.shape, info.num_classes) == ("image", (3, 16, 16), 3)
    assert info.extras["classes"] == ["blue", "green", "red"] and len(info.extras["content_hash"]) == 64
    assert splits_of(info) == ("train", "test", "fit", "val")
    assert DATASETS.source(name) == f"user files folder:{root}"
    train, test = load(name, "train"), load(name, "test")
    assert train.x.dtype == torch.uint8 and train.y.dtype == torch.int64
    assert (len(train), len(test)) == (54, 6)
    assert train.y.bincount().tolist() == [18, 18, 18] and test.y.bincount().tolist() == [2, 2, 2]
    for d in (train, test):  # each image's colour is its class's
        dominant = d.x.float().mean((2, 3)).argmax(1)  # channel: 0 red, 1 green, 2 blue
        assert torch.equal(dominant, torch.tensor([2, 1, 0])[d.y])
    # the split is the documented one: per class, 10% of a RandomState(0) permutation of the sorted files
    y_all = np.repeat(np.arange(3), 20)
    assert fixed_test_mask(y_all).sum() == 6
    fit, val = load(name, "fit"), load(name, "val")
    assert (len(fit), len(val)) == (48, 6) and val.y.bincount().tolist() == [2, 2, 2]
    # fixed: decoded again from the files (cache gone, process memory forgotten), the same tensors
    for f in (tmp_path / "cache" / "user-data").glob("user-*"):
        f.unlink()
    DATASETS.forget_user()
    again = load(name, "test")
    assert torch.equal(again.x, test.x) and torch.equal(again.y, test.y)


def test_flat_folder_is_unlabelled_and_grayscale_is_detected_or_set(tmp_path):
    root = tmp_path / "flat"
    for i in range(12):
        solid(root / f"{i}.png", (10 * i, 10 * i, 10 * i), mode="L")
    info = DATASETS.get(f"folder:{root}")
    assert (info.shape, info.num_classes, info.labelled) == ((1, 16, 16), 0, False)
    assert (len(load(f"folder:{root}", "train")), len(load(f"folder:{root}", "test"))) == (11, 1)
    rgb = DATASETS.get(f"folder:{root}?mode=rgb")
    assert rgb.shape == (3, 16, 16)
    x = load(f"folder:{root}?mode=rgb", "train").x
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])


def test_train_and_test_folders_are_the_splits(tmp_path):
    root = tmp_path / "split"
    class_folder(root / "train", n=5)
    class_folder(root / "test", n=2)
    name = f"folder:{root}"
    assert DATASETS.get(name).num_classes == 3
    assert (len(load(name, "train")), len(load(name, "test"))) == (15, 6)
    assert load(name, "test").y.tolist() == [0, 0, 1, 1, 2, 2]


def test_size_and_crop_settings_give_one_resolution(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    for i, size in enumerate([(40, 30), (30, 40), (36, 36)]):
        img = Image.new("RGB", size, (255, 0, 0))
        w, h = size
        img.paste((0, 0, 255), ((w - 10) // 2, (h - 10) // 2, (w - 10) // 2 + 10, (h - 10) // 2 + 10))
        img.save(root / f"{i}.png")
    x = load(f"folder:{root}?size=32", "train").x
    assert x.shape[1:] == (3, 32, 32)
    crop = load(f"folder:{root}?crop=10&size=8", "train").x  # the blue centre only
    assert crop.shape[1:] == (3, 8, 8) and (crop[:, 2] == 255).all() and (crop[:, 0] == 0).all()


def test_array_files_images_labels_and_points(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(40, 12, 12, 3), dtype=np.uint8)  # channels-last
    y = np.repeat([3, 7], 20)  # any integer labels: classes in sorted order
    np.savez(tmp_path / "imgs.npz", x=x, y=y)
    name = f"npz:{tmp_path / 'imgs.npz'}"
    info = DATASETS.get(name)
    assert (info.kind, info.shape, info.num_classes) == ("image", (3, 12, 12), 2)
    tr, te = load(name, "train"), load(name, "test")
    assert (len(tr), len(te)) == (36, 4) and te.y.bincount().tolist() == [2, 2]
    test_idx = np.flatnonzero(fixed_test_mask(np.repeat([0, 1], 20)))
    assert torch.equal(te.x, torch.from_numpy(x[test_idx].transpose(0, 3, 1, 2)))
    # channels-first grayscale, fixed splits given in the file
    np.savez(tmp_path / "gray.npz", x_train=x[:30, None, :, :, 0], x_test=x[30:, None, :, :, 0])
    g = f"npz:{tmp_path / 'gray.npz'}"
    assert DATASETS.get(g).shape == (1, 12, 12) and len(load(g, "test")) == 10
    # float N x 2 points in an .npy: 2-D data, unlabelled
    pts = rng.randn(50, 2).astype(np.float64)
    np.save(tmp_path / "pts.npy", pts)
    p = f"npy:{tmp_path / 'pts.npy'}"
    assert (DATASETS.get(p).kind, DATASETS.get(p).shape, DATASETS.get(p).num_classes) == ("points", (2,), 0)
    assert load(p, "train").x.dtype == torch.float32 and len(load(p, "test")) == 5


def test_content_hash_changes_with_one_file_and_the_run_id_with_it(tmp_path):
    root = class_folder(tmp_path / "colours")
    name = f"folder:{root}?size=32"
    layer = {"dataset": name, "model_params": {"width": 8}, "eval": {"extractor": "none"}}
    spec = resolve("ns", layer)
    info = DATASETS.get(name)
    h1, key1, id1 = info.extras["content_hash"], dataset_cache_key(info), spec.run_id
    stored = {k: v for k, v in spec.identity().items() if k != "semantics_version"}  # as a record keeps it
    assert spec.identity()["dataset_content"] == h1 and key1.startswith("user-folder-colours-")
    assert resolve("ns", layer).run_id == id1  # stable
    DATASETS.forget_user()
    assert resolve("ns", layer).run_id == id1  # read again, unchanged files: the same id
    # a built-in dataset's identity has no content entry: existing run ids stay
    assert "dataset_content" not in resolve("ns", {"dataset": "mnist-5k"}).identity()

    f = root / "red" / "05.png"
    solid(f, (1, 2, 3))
    bump_mtime(f)
    DATASETS.forget_user()
    info2 = DATASETS.get(name)
    assert info2.extras["content_hash"] != h1 and dataset_cache_key(info2) != key1
    spec2 = resolve("ns", layer)
    assert spec2.run_id != id1
    # a stored config of the first run no longer matches the files
    with pytest.raises(ConfigError, match="changed since this run was made"):
        spec_from_dict(stored)
    assert spec_from_dict({k: v for k, v in spec2.identity().items() if k != "semantics_version"}).run_id == spec2.run_id


def test_reference_and_classifier_caches_are_named_by_content(tmp_path):
    from bench.metrics import evaluate
    from bench.metrics.classifier import ClassifierConfig, classifier_path

    root = class_folder(tmp_path / "colours")
    name = f"folder:{root}?size=32"
    x = load(name, "train").as_float()
    cfg = ClassifierConfig(epochs=1, min_steps=3, batch_size=27, width=4, feat_dim=8)
    s = evaluate(lambda n: x[:n], name, dict(num_samples=6, metrics=["fid"], batch_size=6),
                 cache_dir=str(tmp_path / "c"), classifier_config=cfg)
    info = DATASETS.get(name)
    prov = s.provenance
    assert prov["extractor"] == "classifier" and prov["dataset_content_hash"] == info.extras["content_hash"]
    assert dataset_cache_key(info) in prov["reference_cache_name"] and "/" not in prov["reference_cache_name"]
    assert classifier_path(name, cfg, str(tmp_path / "c")).name.startswith(dataset_cache_key(info))
    assert "frechet_inception_distance" in s.values


def errors_of(name):
    with pytest.raises(ConfigError) as e:
        resolve("ns", {"dataset": name, "eval": {"extractor": "none"}})
    return str(e.value)


def test_validation_names_the_path_and_the_remedy(tmp_path):
    missing = tmp_path / "nowhere"
    msg = errors_of(f"folder:{missing}")
    assert str(missing) in msg and "no folder" in msg
    assert f"folder:{missing}" not in DATASETS and "no folder" in DATASETS.unknown_message(f"folder:{missing}")

    (tmp_path / "empty").mkdir()
    msg = errors_of(f"folder:{tmp_path / 'empty'}")
    assert "no images under" in msg and str(tmp_path / "empty") in msg and "sub-folder per class" in msg

    mixed = tmp_path / "mixed"
    solid(mixed / "a.png", (1, 1, 1), (16, 16))
    solid(mixed / "b.png", (1, 1, 1), (20, 12))
    msg = errors_of(f"folder:{mixed}")
    assert "different sizes" in msg and "16x16" in msg and "20x12" in msg and f"folder:{mixed}?size=" in msg

    bad = tmp_path / "bad"
    solid(bad / "a.png", (1, 1, 1))
    (bad / "b.png").write_bytes(b"not an image")
    msg = errors_of(f"folder:{bad}")
    assert "cannot read image" in msg and str(bad / "b.png") in msg

    assert "unknown setting 'sise'" in errors_of(f"folder:{bad}?sise=32")
    assert "no .npz file" in errors_of(f"npz:{tmp_path / 'none.npz'}")
    np.save(tmp_path / "f.npy", np.zeros((4, 8, 8), dtype=np.float32))
    assert "must be uint8" in errors_of(f"npy:{tmp_path / 'f.npy'}")
    # images the architecture cannot build: dcgan has 28, 32 and 64 pixels
    ok = class_folder(tmp_path / "ok", n=3)
    msg = errors_of(f"folder:{ok}")
    assert "16x16 images" in msg and "'dcgan'" in msg and "?size=64" in msg
    with pytest.raises(UserDatasetError):
        DATASETS.get(f"folder:{missing}")


def test_short_training_run_end_to_end(tmp_path):
    from bench.train import train

    root = class_folder(tmp_path / "colours")
    name = f"folder:{root}?size=32"
    spec = resolve("ns", {"dataset": name, "model": "dcgan", "model_params": {"width": 8}, "batch_size": 8,
                          "steps": 20, "log_every": 10, "eval": {"extractor": "none"}})
    rec = train(spec, tmp_path / "run", progress=False)
    assert rec["status"] == "done" and rec["counts"]["d_steps"] == 20
    assert rec["run_id"] == spec.run_id
    assert rec["config"]["dataset_content"] == DATASETS.get(name).extras["content_hash"]
