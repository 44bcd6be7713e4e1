import pytest

from bench.data import DATASETS
from bench.losses import LOSSES
from bench.models import ARCHS
from bench.registry import Registry, RegistryError


def test_duplicate_name_is_an_error():
    r = Registry("thing")
    r.add("a", 1)
    with pytest.raises(RegistryError, match="registered twice"):
        r.add("a", 2)


def test_unknown_name_lists_valid_and_suggests():
    r = Registry("objective")
    for n in ["wgan", "wgan-gp", "ns"]:
        r.add(n, n)
    with pytest.raises(RegistryError) as e:
        r.get("wgan_gp")
    msg = str(e.value)
    assert "Did you mean 'wgan-gp'?" in msg and "Valid objectives: ns, wgan, wgan-gp" in msg


def test_shared_registries_hold_everything():
    assert LOSSES.names() == sorted(["mm", "ns", "lsgan", "wgan", "wgan-gp", "dragan", "began", "acgan", "infogan"])
    assert {"ring8", "grid25", "mnist-5k", "mnist", "fashion-mnist", "cifar10", "celeba"} <= set(DATASETS.names())
    assert ARCHS.names() == ["dcgan", "infogan", "mlp"]
