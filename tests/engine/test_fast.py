"""Fast paths: each runs on CPU, each is part of the run id, impossible combinations refused."""
import pytest

from bench.errors import ConfigError
from bench.validate import resolve
from bench.train import train


def spec(loss="ns", **fast):
    return resolve(loss, {"dataset": "mnist-5k", "model": "dcgan", "model_params": {"width": 8}, "batch_size": 8,
                          "steps": 6, "log_every": 3, "eval": {"extractor": "none"}, "fast": fast})


@pytest.mark.parametrize("fast", [{"bf16": True}, {"channels_last": True}, {"bf16": True, "channels_last": True}])
def test_fast_paths_run_on_cpu(fast):
    rec = train(spec(**fast), None, progress=False)
    assert rec["status"] == "done" and all(v == v for _, v in rec["curves"]["d_loss"])


def test_channels_last_computes_the_same_numbers_and_bf16_does_not():
    plain = train(spec(), None, progress=False)["curves"]["d_loss"]
    cl = train(spec(channels_last=True), None, progress=False)["curves"]["d_loss"]
    bf = train(spec(bf16=True), None, progress=False)["curves"]["d_loss"]
    assert all(abs(a - b) <= 1e-4 * max(1, abs(b)) for (_, a), (_, b) in zip(cl, plain))
    assert any(abs(a - b) > 1e-6 for (_, a), (_, b) in zip(bf, plain))


def test_fast_options_are_part_of_the_run_id():
    ids = {spec().run_id, spec(bf16=True).run_id, spec(channels_last=True).run_id, spec(compile=True).run_id}
    assert len(ids) == 4


def test_compile_with_a_gradient_penalty_is_refused():
    with pytest.raises(ConfigError, match="fast.compile"):
        spec("wgan-gp", compile=True)
