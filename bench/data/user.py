"""User datasets: a folder of images or an array file, named by where it is.

Names (a suite's ``grid.dataset`` and ``datasets:`` keys, ``ganbench train --dataset``)::

    folder:PATH[?size=S&crop=C&mode=gray|rgb]     a folder of images
    npz:PATH[?size=S&crop=C&mode=gray|rgb]        a NumPy .npz file
    npy:PATH[?size=S&crop=C&mode=gray|rgb]        a NumPy .npy file

e.g. ``dataset: folder:/data/anime?size=64&crop=160``. PATH may start with ``~``; a relative PATH
is read from the current folder (use absolute paths in suites: Ray trials run elsewhere, and on
every node of a cluster the same path must hold the same files). ``?`` starts the settings, so
PATH cannot contain one. The name, settings included, is the dataset's name everywhere (tables,
records, ``datasets:`` keys): write it the same way each time. Quote a name with settings inside
a YAML flow list (``dataset: ['folder:/data/anime?size=64', mnist-5k]``; block lists and mapping
keys need no quotes) and on a shell command line (``--dataset 'folder:/data/anime?size=64'``).

Settings (images only; all optional):

- ``size=S``: output S×S. Each image is resized (bilinear) so that its shorter side is S, then
  centre-cropped to S×S (the aspect ratio is kept). Without ``size`` every image must already
  have one size (after ``crop``), else validation says which sizes it found.
- ``crop=C``: first centre-crop C×C (CelebA-style: ``crop=160&size=64``); every image must be
  at least C×C.
- ``mode=gray|rgb``: one or three channels. Default: grayscale when every image file is stored
  grayscale (PIL modes 1, L, LA, I, I;16, F), else RGB (alpha dropped; palette images are RGB).

Folder layout (torchvision's ImageFolder): image files (.jpg .jpeg .png .ppm .bmp .pgm .tif
.tiff .webp; hidden files skipped) either

- in sub-folders of PATH, one per class (``PATH/cat/*.png``, ``PATH/dog/*.png``, nested folders
  below a class allowed): labelled, classes numbered in sorted order of the folder names; or
- directly in PATH: unlabelled.

One class folder alone counts as unlabelled. A folder with both loose images and class folders
is refused. Where PATH holds ``train/`` and ``test/``, those are the splits (each laid out as
above, with the same class folders; other folders of PATH are ignored); otherwise the split is
fixed: the files in sorted order are permuted with NumPy ``RandomState(0)`` and, per class in
that order, the first 10% (rounded, at least one of a class of two or more) are ``test`` and the
rest ``train``. The derived ``fit`` / ``val`` splits (:mod:`bench.data`) then hold out 10% of
``train`` as for every dataset.

Array files: ``x`` holds uint8 images N×H×W (grayscale), N×H×W×C or N×C×H×W (C = 1 or 3;
channels-last is read where the last axis is 1 or 3), or other integer types with values in
0..255; or float points N×2 (2-D data, no settings). An ``.npy`` is ``x``. An ``.npz`` holds
``x`` and optionally ``y`` (N integer labels; their distinct values become classes 0..K-1), or a
single array (``x``), or ``x_train`` / ``x_test`` (optionally ``y_train`` / ``y_test``) as fixed
splits. Without fixed splits the 90/10 split above is made, stratified by ``y``.

Several label attributes (multi-attribute conditioning, e.g. hair and eye colour): ``y`` (or
``y_train`` / ``y_test``) as an N×K integer array, K ≥ 2, one column per attribute holding class
indices 0..C_k-1 as given (C_k = the column's largest value + 1 over both splits; negative values
are refused, every attribute needs two or more classes), and optionally ``label_names``: K strings
naming the columns (letters, digits, ``_``, ``-``; default ``attr0``, ``attr1``, ...). The first
column is the primary label: the fixed split is stratified by it, and the classifier extractor and
class metrics read it. An N×1 ``y`` is one label per sample.

Identity: the files' content. Every file is hashed (sha256; memoised per file by path, size and
modification time in ``<cache>/user-data/index-*.json``) and the content hash (sha256 over the
relative file names and their hashes; an array file's bytes alone) goes into

- ``DatasetInfo.extras["content_hash"]`` and the provenance of every evaluation;
- the run id (``RunSpec.identity()["dataset_content"]``), so a run on changed files is another run;
- ``extras["cache_key"]`` (``user-<kind>-<file name>-<hash of content and settings>``), which
  names the reference-feature, classifier and real-data-floor caches and the decoded tensors
  (``<cache>/user-data/<cache_key>-<split>.pt``, so other processes need not decode again).

Training and evaluation: the architecture must build the image size (``dcgan`` and ``infogan``:
28, 32 or 64 pixels; validation says so and suggests ``?size=``). ``eval.extractor: auto`` takes
the ``classifier`` (trained on the labels; any number of classes, images of 8×8 or more) where
the dataset is labelled, else ``inception-offline``; ``inception`` and ``none`` work on either.

A process reads a user dataset once, on first use (``DATASETS.get`` / ``load``, validation),
checking it then: a missing path, no images, an unreadable image or mixed sizes without ``size``
raise ``UserDatasetError`` (a ``ConfigError``) naming the path and what to do. Files changed
later are seen by the next process (each ``ganbench`` command, each Ray trial), or after
``DATASETS.forget_user()``; a stored run whose recorded content hash differs from the files'
(``ganbench eval`` of an old run) is refused. ``<cache>`` is ``$GANBENCH_CACHE``, else ``~/.cache/ganbench``.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

import numpy as np
import torch

from ..errors import DatasetUnavailable, UserDatasetError
from ..registry import Origin
from . import DatasetInfo

__all__ = ["is_user_name", "parse", "resolve", "content_hash_of", "forget", "UserOrigin", "UserSource",
           "PREFIXES", "IMAGE_EXTENSIONS", "TEST_FRACTION", "SPLIT_SEED", "LOADER_VERSION"]

PREFIXES = ("folder", "npz", "npy")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
MODES = ("gray", "rgb")
OPTIONS = ("size", "crop", "mode")
TEST_FRACTION = 0.1
SPLIT_SEED = 0
RACY_NS = 2_000_000_000  # files younger than this are not memoised (see file_hashes)
LOADER_VERSION = 1  # bump when decoding changes: enters the cache key of the decoded tensors and caches


# ---------------------------------------------------------------------------------- names

@dataclass(frozen=True)
class UserSource:
    """A parsed user dataset name."""

    name: str
    kind: str  # folder | npz | npy
    path: Path
    size: Optional[int] = None
    crop: Optional[int] = None
    mode: Optional[str] = None  # gray | rgb | None (detected)
    query: str = ""

    def settings(self) -> Dict[str, object]:
        return {"size": self.size, "crop": self.crop, "mode": self.mode}

    def hint(self, **opts) -> str:
        """The name with settings ``opts`` added, for messages."""
        cur = {k: v for k, v in self.settings().items() if v is not None}
        cur.update(opts)
        q = "&".join(f"{k}={v}" for k, v in cur.items())
        return f"'{self.kind}:{self.path}{'?' + q if q else ''}'"


def is_user_name(name: object) -> bool:
    """Whether ``name`` names a user dataset (``folder:``, ``npz:`` or ``npy:``); no file is read."""
    if not isinstance(name, str):
        return False
    kind, sep, _ = name.partition(":")
    return bool(sep) and kind in PREFIXES


def _err(name: str, msg: str) -> UserDatasetError:
    return UserDatasetError(f"dataset {name!r}: {msg}")


def parse(name: str) -> UserSource:
    """``UserSource`` of a user dataset name; ``UserDatasetError`` for bad syntax or settings."""
    if not is_user_name(name):
        raise _err(name, f"not a user dataset name; expected {', '.join(p + ':PATH' for p in PREFIXES)}")
    kind, _, rest = name.partition(":")
    path, _, query = rest.partition("?")
    if not path.strip():
        raise _err(name, f"no path after '{kind}:'; write e.g. '{kind}:/data/my-images'")
    opts: Dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k not in OPTIONS:
            raise _err(name, f"unknown setting {k!r}; valid: {', '.join(OPTIONS)} (e.g. '?size=64&crop=160&mode=rgb')")
        if k in opts:
            raise _err(name, f"setting {k!r} is given twice")
        opts[k] = v
    if query and not opts:
        raise _err(name, f"cannot read the settings {query!r}; write them as '?size=64&crop=160&mode=rgb'")
    ints = {}
    for k in ("size", "crop"):
        if k in opts:
            try:
                ints[k] = int(opts[k])
            except ValueError:
                ints[k] = 0
            if ints[k] < 1 or str(ints[k]) != opts[k].strip():
                raise _err(name, f"setting {k}={opts[k]!r}: expected a positive integer (pixels)")
    mode = opts.get("mode")
    if mode is not None and mode not in MODES:
        raise _err(name, f"setting mode={mode!r}: expected one of {', '.join(MODES)} (omit it to detect)")
    return UserSource(name, kind, Path(path).expanduser(), ints.get("size"), ints.get("crop"), mode, query)


@dataclass(frozen=True)
class UserOrigin(Origin):
    """Where a user dataset came from: its files (``ganbench list datasets`` shows them)."""

    files: str = ""

    @property
    def builtin(self) -> bool:
        return False

    @property
    def source(self) -> str:
        return f"user files {self.files}"

    def to_dict(self):
        return {**super().to_dict(), "files": self.files}


# ---------------------------------------------------------------------------------- hashing

def _cache_dir() -> Path:
    from ..cachedir import cache_root

    d = cache_root() / "user-data"
    d.mkdir(parents=True, exist_ok=True)
    return d


_INDEX: Dict[str, Dict[str, list]] = {}  # index file -> {absolute path: [size, mtime_ns, sha256]}
_INDEX_LOCK = threading.Lock()


def _index_file(root: Path) -> Path:
    return _cache_dir() / f"index-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hashes(root: Path, files: List[Path]) -> List[str]:
    """sha256 of each file, memoised by (path, size, mtime) in memory and in a per-``root``
    index file of the cache, so unchanged files are never read twice."""
    from ..results import atomic_write_json

    idx_path = _index_file(root)
    with _INDEX_LOCK:
        index = _INDEX.get(str(idx_path))
        if index is None:
            try:
                index = json.loads(idx_path.read_text(encoding="utf-8")).get("files", {})
            except (OSError, ValueError, AttributeError):
                index = {}
            _INDEX[str(idx_path)] = index
        out, changed = [], False
        for f in files:
            st = f.stat()
            key = str(f)
            hit = index.get(key)
            if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
                out.append(hit[2])
                continue
            sha = _sha256(f)
            out.append(sha)
            # a file modified within the last seconds may change again within the clock's
            # granularity, keeping its (size, mtime): it is hashed again next time
            if time.time_ns() - st.st_mtime_ns > RACY_NS:
                index[key] = [st.st_size, st.st_mtime_ns, sha]
                changed = True
        if changed:
            try:
                atomic_write_json(idx_path, {"root": str(root), "files": index})
            except OSError:  # a read-only cache only costs re-hashing in the next process
                pass
    return out


def content_hash(rel_names: List[str], hashes: List[str]) -> str:
    """sha256 over (relative name, file sha256) pairs in sorted order of the names."""
    h = hashlib.sha256(b"ganbench user data\n")
    for rel, sha in sorted(zip(rel_names, hashes)):
        h.update(f"{rel}\0{sha}\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------- splits

def fixed_test_mask(labels: np.ndarray) -> np.ndarray:
    """The fixed 90/10 split: per label, in a RandomState(SPLIT_SEED) permutation, the first
    round(10%) (at least one of a group of two or more) are test."""
    n = len(labels)
    perm = np.random.RandomState(SPLIT_SEED).permutation(n)
    test = np.zeros(n, dtype=bool)
    for c in np.unique(labels):
        grp = perm[labels[perm] == c]
        k = int(np.floor(TEST_FRACTION * len(grp) + 0.5))
        if len(grp) >= 2:
            k = max(1, k)
        test[grp[:k]] = True
    return test


def _relabel(name: str, y: np.ndarray, where: str) -> Tuple[np.ndarray, List]:
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise _err(name, f"{where}: labels must be integers, got dtype {y.dtype}")
    classes = np.unique(y)
    return np.searchsorted(classes, y).astype(np.int64), classes.tolist()


# ---------------------------------------------------------------------------------- images

def _transform(img, src: UserSource, channels: int) -> np.ndarray:
    """One PIL image -> uint8 C×H×W after the mode, crop and size settings."""
    from PIL import Image

    img = img.convert("L" if channels == 1 else "RGB")
    if src.crop is not None:
        w, h = img.size
        left, top = (w - src.crop) // 2, (h - src.crop) // 2
        img = img.crop((left, top, left + src.crop, top + src.crop))
    if src.size is not None and img.size != (src.size, src.size):
        w, h = img.size
        s = src.size / min(w, h)
        nw, nh = max(src.size, int(round(w * s))), max(src.size, int(round(h * s)))
        img = img.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - src.size) // 2, (nh - src.size) // 2
        img = img.crop((left, top, left + src.size, top + src.size))
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _check_sizes(src: UserSource, sizes: Dict[Tuple[int, int], List[str]], where: str) -> Tuple[int, int]:
    """Output H, W; UserDatasetError for images too small for ``crop`` or mixed sizes without ``size``."""
    if src.crop is not None:
        small = [(wh, fs) for wh, fs in sizes.items() if min(wh) < src.crop]
        if small:
            (w, h), fs = small[0]
            raise _err(src.name, f"{fs[0]} is {w}x{h}, smaller than crop={src.crop} ({sum(len(f) for _, f in small)} "
                                 f"image(s) under {where} are); lower crop or leave it out")
    if src.size is not None:
        return src.size, src.size
    if src.crop is not None:
        return src.crop, src.crop
    if len(sizes) > 1:
        common = sorted(sizes.items(), key=lambda kv: -len(kv[1]))
        found = ", ".join(f"{len(fs)} of {w}x{h} (e.g. {fs[0]})" for (w, h), fs in common[:3])
        more = f" and {len(common) - 3} more sizes" if len(common) > 3 else ""
        s = min(min(wh) for wh in sizes)
        raise _err(src.name, f"the images under {where} have different sizes: {found}{more}. Give one output "
                             f"size, e.g. {src.hint(size=min(64, s))} (resize the shorter side, centre crop), "
                             f"optionally with crop=N to centre-crop first")
    (w, h), = sizes
    return h, w


def _list_images(d: Path) -> List[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(d, followlinks=True):
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        out += [Path(dirpath) / f for f in filenames
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
    return sorted(out)


def _split_layout(name: str, d: Path) -> Tuple[List[Path], List[Optional[str]]]:
    """(files, class folder names or None) of a folder laid out as ImageFolder, or flat."""
    loose = sorted(p for p in d.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS)
    classes = []
    for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _list_images(sub)
        if files:
            classes.append((sub.name, files))
    if loose and classes:
        raise _err(name, f"{d} holds both images ({loose[0].name}, ...) and sub-folders with images "
                         f"({classes[0][0]}/, ...); put every image in a class folder (labelled) or every image "
                         f"directly in {d} (unlabelled)")
    if classes:
        return [f for _, fs in classes for f in fs], [c for c, fs in classes for _ in fs]
    return loose, [None] * len(loose)


def _folder_files(src: UserSource):
    """{split or 'all': (files, class names)} for a folder dataset."""
    root = src.path
    subs = {p.name for p in root.iterdir() if p.is_dir()}
    if {"train", "test"} <= subs:
        return {s: _split_layout(src.name, root / s) for s in ("train", "test")}
    return {"all": _split_layout(src.name, root)}


def _read_folder(src: UserSource, use_cache: bool = True):
    """Decoded splits and facts of a folder dataset: ({split or 'all': (x uint8 N×C×H×W, y)} or
    None where the decoded splits are cached, meta)."""
    from PIL import Image, UnidentifiedImageError

    root = src.path
    layout = _folder_files(src)
    files = [f for fs, _ in layout.values() for f in fs]
    if not files:
        found = sorted(p.name for p in root.iterdir())[:5]
        what = f"it holds {', '.join(found)}{', ...' if len(found) == 5 else ''}" if found else "it is empty"
        raise _err(src.name, f"no images under {root} ({what}). Put image files ({', '.join(IMAGE_EXTENSIONS)}) "
                             f"directly in it (unlabelled) or in one sub-folder per class (labelled)")
    rels = [f.relative_to(root).as_posix() for f in files]
    chash = content_hash(rels, file_hashes(root, files))
    # classes: the train split's (or the whole folder's) class folders, sorted
    base = layout.get("train", layout.get("all"))
    class_names = sorted({c for c in base[1] if c is not None})
    for split, (fs, cs) in layout.items():
        if (class_names and None in cs) or (not class_names and any(c is not None for c in cs)):
            raise _err(src.name, f"{root}/train and {root}/test must both have class folders or both not")
        extra = sorted({c for c in cs if c is not None} - set(class_names))
        if extra:
            raise _err(src.name, f"{root}/{split} has class folders that {root}/train lacks: {', '.join(extra)}")
    labelled = len(class_names) > 1
    meta = {"content_hash": chash, "classes": class_names if labelled else [],
            "layout": ("train/ and test/ folders" if "train" in layout else "fixed 90/10 split")
            + (f", {len(class_names)} class folders" if labelled else ", unlabelled")}
    if use_cache and _is_cached(_cache_key(src, chash)):
        return None, meta
    # pass 1: every header (size, mode), so that errors come before any decoding
    sizes: Dict[Tuple[int, int], List[str]] = {}
    gray = True
    for f, rel in zip(files, rels):
        try:
            with Image.open(f) as im:
                sizes.setdefault(im.size, []).append(rel)
                gray = gray and im.mode in GRAY_MODES
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise _err(src.name, f"cannot read image {f} ({type(e).__name__}: {e}); remove or replace it") from None
    h, w = _check_sizes(src, sizes, str(root))
    channels = 1 if (src.mode == "gray" or (src.mode is None and gray)) else 3
    index = {c: i for i, c in enumerate(class_names)}
    out = {}
    for split, (fs, cs) in layout.items():
        x = np.empty((len(fs), channels, h, w), dtype=np.uint8)
        for i, f in enumerate(fs):
            try:
                with Image.open(f) as im:
                    x[i] = _transform(im, src, channels)
            except (OSError, ValueError) as e:
                raise _err(src.name, f"cannot decode image {f} ({type(e).__name__}: {e}); remove or replace "
                                     f"it") from None
        y = np.array([index[c] if labelled else 0 for c in cs], dtype=np.int64)
        out[split] = (x, y)
    return out, meta


# ---------------------------------------------------------------------------------- arrays

def _array_images(src: UserSource, a: np.ndarray, where: str) -> np.ndarray:
    """An images array -> uint8 N×C×H×W (settings applied)."""
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise _err(src.name, f"{where}: images must be uint8 (0..255), got dtype {a.dtype}; convert them, e.g. "
                             f"np.round(x * 255).astype(np.uint8) for floats in [0, 1]")
    if a.dtype != np.uint8:
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if lo < 0 or hi > 255:
            raise _err(src.name, f"{where}: integer images must lie in 0..255, found {lo}..{hi}")
        a = a.astype(np.uint8)
    if a.ndim == 3:
        a = a[:, None]
    elif a.shape[-1] in (1, 3):
        a = a.transpose(0, 3, 1, 2)
    elif a.shape[1] not in (1, 3):
        raise _err(src.name, f"{where}: a 4-D images array must be N×H×W×C or N×C×H×W with C = 1 or 3, got "
                             f"shape {a.shape}")
    if src.size is None and src.crop is None and src.mode is None:
        return np.ascontiguousarray(a)
    from PIL import Image

    if src.crop is not None and min(a.shape[2:]) < src.crop:
        raise _err(src.name, f"{where}: images are {a.shape[3]}x{a.shape[2]}, smaller than crop={src.crop}; "
                             f"lower crop or leave it out")
    channels = {"gray": 1, "rgb": 3}.get(src.mode, a.shape[1])
    return np.stack([_transform(Image.fromarray(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)), src,
                                channels) for im in a])


def _array_points(src: UserSource, a: np.ndarray, where: str) -> np.ndarray:
    if a.ndim != 2 or a.shape[1] != 2:
        raise _err(src.name, f"{where}: a 2-D array must be N×2 points, got shape {a.shape}")
    if src.query:
        raise _err(src.name, "settings (size, crop, mode) are for images; this file holds 2-D points")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise _err(src.name, f"{where}: points must be numbers, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise _err(src.name, f"{where}: the points hold NaN or infinite values")
    return a


def _as_data(src: UserSource, a: np.ndarray, where: str) -> Tuple[str, np.ndarray]:
    if a.ndim == 2:
        return "points", _array_points(src, a, where)
    if a.ndim in (3, 4):
        return "image", _array_images(src, a, where)
    raise _err(src.name, f"{where}: expected uint8 images N×H×W, N×H×W×C or N×C×H×W, or float points N×2; got "
                         f"an array of shape {a.shape}")


def _read_arrays(src: UserSource) -> Tuple[Dict[str, Tuple[np.ndarray, Optional[np.ndarray]]], Optional[np.ndarray]]:
    """({split or 'all': (x, y or None)} as stored in the file, its ``label_names`` or None)."""
    p = src.path
    try:
        if src.kind == "npy":
            return {"all": (np.load(p, allow_pickle=False), None)}, None
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            label_names = z["label_names"] if "label_names" in names else None
            if "x" in names:
                return {"all": (z["x"], z["y"] if "y" in names else None)}, label_names
            if "x_train" in names and "x_test" in names:
                return ({s: (z[f"x_{s}"], z[f"y_{s}"] if f"y_{s}" in names else None) for s in ("train", "test")},
                        label_names)
            if len(names) == 1:
                return {"all": (z[names[0]], None)}, None
    except Exception as e:  # noqa: BLE001 -- OSError, ValueError, zipfile.BadZipFile, ...
        raise _err(src.name, f"cannot read {p} as a NumPy {src.kind} file ({type(e).__name__}: {e})") from None
    raise _err(src.name, f"{p} holds arrays {', '.join(names) or '(none)'}; it needs 'x' (and optionally 'y' "
                         f"labels), or 'x_train' and 'x_test' (optionally 'y_train', 'y_test')")


def _labels(src: UserSource, y, n: int, where: str) -> np.ndarray:
    """N labels, or N×K (K >= 2 label attributes: integer class indices >= 0, as int64)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise _err(src.name, f"{where}: labels have shape {y.shape}; expected ({n},) (one label per sample) or "
                             f"({n}, K) (K label attributes, one column each)")
    if y.ndim == 1:
        return y
    if y.dtype != bool and not np.issubdtype(y.dtype, np.integer):
        raise _err(src.name, f"{where}: label attributes must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        row, col = np.argwhere(y < 0)[0]
        raise _err(src.name, f"{where}: label attributes are class indices 0..C-1, but column {col} holds "
                             f"{y[row, col]} (row {row}); number each attribute's classes from 0")
    return y


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _label_names(src: UserSource, a: np.ndarray, k: int) -> List[str]:
    """The ``label_names`` array: K names of the label columns (they name curves such as
    ``aux_acc_fake.<name>``)."""
    where = f"{src.path} array label_names"
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "US":
        raise _err(src.name, f"{where}: expected a 1-D array of strings, one name per label column, got dtype "
                             f"{a.dtype} and shape {a.shape}")
    names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in a.tolist()]
    if len(names) != k:
        raise _err(src.name, f"{where}: {len(names)} name(s) {names} for {k} label column(s) in y; give one name "
                             f"per column")
    bad = [n for n in names if not n or not set(n) <= NAME_CHARS]
    if bad:
        raise _err(src.name, f"{where}: name {bad[0]!r} is not a plain name (letters, digits, '_', '-')")
    if len(set(names)) < len(names):
        raise _err(src.name, f"{where}: the names {names} repeat; each label column needs its own name")
    return names


def _attributes(src: UserSource, ys: Dict[str, np.ndarray], label_names) -> List[Tuple[str, int]]:
    """(name, class count) per label column of N×K labels ``ys`` (every split)."""
    where = f"{src.path} array " + ("y" if "all" in ys else "y_train / y_test")
    if len({y.ndim for y in ys.values()}) > 1 or len({y.shape[1:] for y in ys.values()}) > 1:
        shapes = ", ".join(f"y_{s} {y.shape}" for s, y in ys.items())
        raise _err(src.name, f"{where}: the splits' labels have different columns ({shapes})")
    cols = np.concatenate(list(ys.values()))
    names = (_label_names(src, label_names, cols.shape[1]) if label_names is not None
             else [f"attr{j}" for j in range(cols.shape[1])])
    counts = [int(c) + 1 for c in cols.max(0)]
    for j, c in enumerate(counts):
        if c < 2:
            raise _err(src.name, f"{where}: attribute {names[j]!r} (column {j}) has one class only (every value is "
                                 f"0); an attribute needs two or more classes")
    return list(zip(names, counts))


def _read_array_file(src: UserSource, use_cache: bool = True):
    """Splits and facts of an .npz / .npy dataset: ({split or 'all': (x, y)} or None where the
    decoded splits are cached, meta)."""
    chash = content_hash([""], file_hashes(src.path.parent, [src.path]))
    meta = {"content_hash": chash}
    if use_cache and _is_cached(_cache_key(src, chash)):
        return None, meta
    stored, label_names = _read_arrays(src)
    kinds, xs, ys = {}, {}, {}
    for split, (x, y) in stored.items():
        where = f"{src.path}" + (f" array x_{split}" if split != "all" else "")
        kinds[split], xs[split] = _as_data(src, np.asarray(x), where)
        ykey = "y" if split == "all" else f"y_{split}"
        ys[split] = None if y is None else _labels(src, y, len(xs[split]), f"{src.path} array {ykey}")
    if len(set(kinds.values())) > 1 or len({x.shape[1:] for x in xs.values()}) > 1:
        raise _err(src.name, f"{src.path}: x_train and x_test hold different kinds or shapes of data")
    if len({y is None for y in ys.values()}) > 1:
        raise _err(src.name, f"{src.path}: give labels for both splits (y_train and y_test) or for neither")
    if label_names is not None and any(y is None for y in ys.values()):
        raise _err(src.name, f"{src.path} array label_names: it names label columns, but the file has no labels y")
    if any(y.ndim == 2 for y in ys.values() if y is not None):
        attributes = _attributes(src, ys, label_names)
        meta.update(classes=[str(c) for c in range(attributes[0][1])], attributes=attributes, layout=(
            ("x_train / x_test" if "train" in stored else "fixed 90/10 split")
            + f", {len(attributes)} label attributes ({', '.join(f'{n}: {c}' for n, c in attributes)} classes)"))
        return {s: (xs[s], ys[s]) for s in stored}, meta
    if label_names is not None:
        _label_names(src, label_names, 1)
    classes: List = []
    if all(y is not None for y in ys.values()):
        lab, classes = _relabel(src.name, np.concatenate([ys[s] for s in stored]), str(src.path))
        cut = 0
        for s in stored:
            ys[s], cut = lab[cut:cut + len(xs[s])], cut + len(xs[s])
    if len(classes) <= 1:
        classes = []
        ys = {s: np.zeros(len(xs[s]), dtype=np.int64) for s in stored}
    meta.update(classes=classes, layout=("x_train / x_test" if "train" in stored else "fixed 90/10 split")
                + (f", {len(classes)} classes" if classes else ", unlabelled"))
    return {s: (xs[s], ys[s]) for s in stored}, meta


# ---------------------------------------------------------------------------------- resolution

def _cache_key(src: UserSource, chash: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in (src.path.stem or src.kind))[:32]
    blob = json.dumps({"kind": src.kind, "content": chash, "settings": src.settings(), "loader": LOADER_VERSION},
                      sort_keys=True)
    return f"user-{src.kind}-{stem}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _split_file(key: str, split: str) -> Path:
    return _cache_dir() / f"{key}-{split}.pt"


_MEMORY: Dict[str, Dict[str, Tuple[torch.Tensor, torch.Tensor]]] = {}  # cache_key -> splits, where unsaved


def _is_cached(key: str) -> bool:
    """Whether the decoded splits of ``key`` are at hand (this process, or the cache folder)."""
    return key in _MEMORY or all(_split_file(key, s).exists() for s in ("train", "test")) and _facts_file(key).exists()


def _finish_splits(src: UserSource, out) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """{train, test} from {train, test} or {all} (the fixed stratified split); each non-empty."""
    if "all" in out:
        x, y = out["all"]
        test = fixed_test_mask(y if y.ndim == 1 else y[:, 0])  # several label attributes: by the first
        out = {"train": (x[~test], y[~test]), "test": (x[test], y[test])}
    for s, (x, _) in out.items():
        if not len(x):
            raise _err(src.name, f"{src.path}: the {s!r} split is empty ({len(out['train'][0]) + len(out['test'][0])} "
                                 f"samples in all); a dataset needs at least one train and one test sample (the fixed "
                                 f"split puts 10% of each class, at least one of a class of two or more, in test)")
    return out


def _store(key: str, splits, facts: dict) -> None:
    """The decoded splits into the cache folder (the facts last: they mark it complete), or into
    this process's memory where the folder cannot be written."""
    from ..results import atomic_torch_save, atomic_write_json

    tensors = {s: (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y, dtype=np.int64)))
               for s, (x, y) in splits.items()}
    try:
        for s, (x, y) in tensors.items():
            atomic_torch_save({"x": x, "y": y}, _split_file(key, s))
        atomic_write_json(_facts_file(key), facts)
    except OSError:  # an unwritable cache: keep them in this process
        _MEMORY[key] = tensors


def _load_split(key: str, split: str) -> Tuple[torch.Tensor, torch.Tensor]:
    if key in _MEMORY:
        return _MEMORY[key][split]
    blob = torch.load(_split_file(key, split), map_location="cpu", weights_only=True)
    return blob["x"], blob["y"]


_FACTS: Dict[str, dict] = {}  # cache_key -> {kind, shape, num_classes, n_train, n_test}
_RESOLVED: Dict[str, str] = {}  # name -> cache_key, this process


def resolve(name: str, use_cache: bool = True) -> Tuple[DatasetInfo, UserOrigin]:
    """Read, check and (unless cached) decode the user dataset ``name``; its ``DatasetInfo`` and
    origin. ``UserDatasetError`` naming the path and the remedy where it cannot be made."""
    src = parse(name)
    p = src.path
    if src.kind == "folder":
        if not p.exists():
            raise _err(name, f"no folder at {p}{_cwd_note(p)}; give the path of a folder of images")
        if not p.is_dir():
            raise _err(name, f"{p} is a file, not a folder; for an array file write 'npz:{p}' or 'npy:{p}'")
        read = _read_folder
    else:
        if not p.is_file():
            what = "a folder (write 'folder:...')" if p.is_dir() else "missing"
            raise _err(name, f"no .{src.kind} file at {p} ({what}{_cwd_note(p)}); give the path of a NumPy "
                             f"{src.kind} file")
        read = _read_array_file
    splits, meta = read(src, use_cache)
    key = _cache_key(src, meta["content_hash"])
    facts = _FACTS.get(key) or _read_facts(key) if splits is None else None
    if facts is None:
        if splits is None:
            splits, meta = read(src, False)
        splits = _finish_splits(src, splits)
        x_tr = splits["train"][0]
        facts = {"kind": "points" if x_tr.ndim == 2 else "image", "shape": list(x_tr.shape[1:]),
                 "num_classes": len(meta["classes"]), "n_train": len(x_tr), "n_test": len(splits["test"][0]),
                 "layout": meta["layout"], "classes": [str(c) for c in meta["classes"]],
                 "attributes": [[n, c] for n, c in meta.get("attributes", [])]}
        _store(key, splits, facts)
    _FACTS[key] = facts
    _RESOLVED[name] = key
    chash = meta["content_hash"]
    what = "2-D points" if facts["kind"] == "points" else "images " + "x".join(map(str, facts["shape"]))
    info = DatasetInfo(
        name=name, kind=facts["kind"], shape=tuple(facts["shape"]), num_classes=facts["num_classes"],
        description=(f"user {src.kind} {p}: {what}, {facts['n_train']} train / {facts['n_test']} test "
                     f"({facts['layout']}); sha256 {chash[:12]}"),
        loader=_loader(name, key), needs_root=False, label=f"{p.name or p}" + (f"?{src.query}" if src.query else ""),
        extras={"content_hash": chash, "cache_key": key, "path": str(p), "source": src.kind,
                "settings": {k: v for k, v in src.settings().items() if v is not None},
                "classes": facts["classes"], "user": True},
        attributes=tuple((str(n), int(c)) for n, c in facts.get("attributes", [])),
    )
    return info, UserOrigin(module=__name__, files=f"{src.kind}:{p}")


def _cwd_note(p: Path) -> str:
    return "" if p.is_absolute() else f", relative to the current folder {Path.cwd()}"


def _facts_file(key: str) -> Path:
    return _cache_dir() / f"{key}.json"


def _read_facts(key: str) -> Optional[dict]:
    try:
        return json.loads(_facts_file(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _loader(name: str, key: str):
    def load(split: str, root: Path):
        try:
            return _load_split(key, split)
        except FileNotFoundError:  # the cache was cleaned since: decode again, from the same files
            info, _ = resolve(name, use_cache=False)
            if info.extras["cache_key"] != key:
                raise DatasetUnavailable(
                    f"dataset {name!r}: its files changed after this process first read them (sha256 "
                    f"{info.extras['content_hash'][:12]} now); run again so that the run id and caches match "
                    f"the new files") from None
            return _load_split(key, split)

    return load


def content_hash_of(name: str) -> Optional[str]:
    """The content hash of user dataset ``name`` (resolving it), None for any other dataset. The
    run identity's hook (``bench.config.set_dataset_content_hook``)."""
    if not is_user_name(name):
        return None
    from . import DATASETS

    return DATASETS.get(name).extras["content_hash"]


def forget(name: Optional[str] = None) -> None:
    """Forget what this process read of user dataset ``name`` (or of all); the hash index stays
    (it is keyed by each file's size and modification time)."""
    for n in [n for n in _RESOLVED if name is None or n == name]:
        key = _RESOLVED.pop(n)
        _MEMORY.pop(key, None)
        _FACTS.pop(key, None)
    with _INDEX_LOCK:
        _INDEX.clear()
