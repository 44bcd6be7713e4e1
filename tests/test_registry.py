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
    def builtin(reg):
        return [n for n in reg.names() if reg.source(n) == "builtin"]

    assert builtin(LOSSES) == sorted(["mm", "ns", "lsgan", "wgan", "wgan-gp", "dragan", "began", "acgan", "infogan", "hinge", "cgan", "ebgan", "vae"])
    assert {"ring8", "grid25", "mnist-5k", "mnist", "fashion-mnist", "cifar10", "celeba"} <= set(builtin(DATASETS))
    assert builtin(ARCHS) == ["dcgan", "infogan", "mlp", "pacgan"]


def test_every_entry_remembers_where_it_came_from():
    r = Registry("thing")
    r.add("a", 1)

    @r.register("b")
    class B:
        pass

    assert r.origin("a").module == __name__ and r.origin("b").module == __name__
    assert r.source("a") == __name__ and r.origin("a").distribution is None
    with pytest.raises(RegistryError) as e:
        r.add("a", 3)
    assert str(e.value).count(__name__) == 2
    for reg in (LOSSES, DATASETS, ARCHS):
        assert reg.source(reg.names()[0]) in ("builtin",) or not reg.origin(reg.names()[0]).builtin
