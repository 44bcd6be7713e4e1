"""Real image datasets read from a data root in torchvision's on-disk layouts:

- mnist, fashion-mnist: ``ROOT/MNIST/raw/*-ubyte`` and ``ROOT/FashionMNIST/raw/*-ubyte``
  (read with torchvision.datasets.MNIST / FashionMNIST);
- cifar10: ``ROOT/cifar-10-batches-py/{data_batch_1..5,test_batch}`` (python pickles);
- celeba: ``ROOT/celeba/img_align_celeba/*.jpg`` and ``ROOT/celeba/list_eval_partition.txt``;
  images are centre-cropped to 160×160 and resized to 64×64 (Lucic et al. 2018), decoded once
  and cached as ``ROOT/celeba/ganbench_64_<split>.pt``.

The root is ``--data-root``, else ``$GANBENCH_DATA``, else ``~/.cache/ganbench/data``. Where
files are absent, torchvision's download is tried; if that fails too, one error names the
dataset, the folder looked in and how to get the data."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from . import DATASETS, DatasetInfo, DatasetUnavailable


def _unavailable(name: str, folder: Path, how: str, err: Exception) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"dataset {name!r}: files not found under {folder} and the download failed "
        f"({type(err).__name__}: {err}). {how} Or pass --data-root / set GANBENCH_DATA to a "
        f"folder that holds them. Offline alternative: the embedded 'mnist-5k'."
    )


def _mnist_like(name: str, cls_name: str):
    def load(split, root: Path):
        import torchvision

        cls = getattr(torchvision.datasets, cls_name)
        train = split == "train"
        try:
            ds = cls(root=str(root), train=train, download=False)
        except RuntimeError:
            try:
                ds = cls(root=str(root), train=train, download=True)
            except Exception as e:  # network errors come in many types
                raise _unavailable(
                    name, root / cls_name / "raw",
                    f"Get the four idx files ({{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte) "
                    f"into {root / cls_name / 'raw'}.", e) from None
        x = ds.data.to(torch.uint8).unsqueeze(1)
        return x, ds.targets.to(torch.int64)

    return load


CIFAR_FOLDER = "cifar-10-batches-py"


def _read_cifar(folder: Path, split: str):
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for f in files:
        with open(folder / f, "rb") as fh:
            d = pickle.load(fh, encoding="latin1")
        xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d["labels"], dtype=np.int64))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def _load_cifar(split, root: Path):
    folder = root / CIFAR_FOLDER
    if not folder.is_dir():
        try:
            import torchvision

            torchvision.datasets.CIFAR10(root=str(root), train=True, download=True)
        except Exception as e:
            raise _unavailable("cifar10", folder, "Download and extract cifar-10-python.tar.gz "
                               f"so that {folder} holds data_batch_1..5 and test_batch.", e) from None
    return _read_cifar(folder, split)


CELEBA_PARTITION = {"train": 0, "valid": 1, "test": 2}


def celeba_transform(img, size: int = 64, crop: int = 160) -> np.ndarray:
    """Centre crop ``crop``×``crop`` then bilinear resize to ``size`` (Lucic et al. 2018)."""
    from PIL import Image

    w, h = img.size
    left, top = (w - crop) // 2, (h - crop) // 2
    img = img.convert("RGB").crop((left, top, left + crop, top + crop))
    img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _load_celeba(split, root: Path):
    folder = root / "celeba"
    cache = folder / f"ganbench_64_{split}.pt"
    if cache.exists():
        x = torch.load(cache)
        return x, torch.zeros(len(x), dtype=torch.int64)
    part_file = folder / "list_eval_partition.txt"
    if not part_file.exists():
        try:
            import torchvision

            torchvision.datasets.CelebA(root=str(root), split="all", download=True)
        except Exception as e:
            raise _unavailable("celeba", folder, "Place img_align_celeba/ (the aligned JPEGs) and "
                               f"list_eval_partition.txt in {folder}.", e) from None
    from PIL import Image

    want = CELEBA_PARTITION[split]
    names = [ln.split()[0] for ln in part_file.read_text().splitlines()
             if ln.strip() and int(ln.split()[1]) == want]
    imgs = np.stack([celeba_transform(Image.open(folder / "img_align_celeba" / n)) for n in names])
    x = torch.from_numpy(imgs)
    tmp = cache.with_suffix(".tmp")
    torch.save(x, tmp)
    tmp.replace(cache)
    return x, torch.zeros(len(x), dtype=torch.int64)


DATASETS.add("mnist", DatasetInfo(
    "mnist", "image", (1, 28, 28), 10, "MNIST, 60,000 train / 10,000 test", _mnist_like("mnist", "MNIST"),
    label="MNIST"))
DATASETS.add("fashion-mnist", DatasetInfo(
    "fashion-mnist", "image", (1, 28, 28), 10, "Fashion-MNIST, 60,000 train / 10,000 test",
    _mnist_like("fashion-mnist", "FashionMNIST"), label="Fashion-MNIST"))
DATASETS.add("cifar10", DatasetInfo(
    "cifar10", "image", (3, 32, 32), 10, "CIFAR-10, 50,000 train / 10,000 test", _load_cifar, label="CIFAR-10"))
DATASETS.add("celeba", DatasetInfo(
    "celeba", "image", (3, 64, 64), 0, "CelebA aligned, centre crop 160, resized to 64x64 (unlabelled)",
    _load_celeba, splits=("train", "valid", "test"), label="CelebA"))
