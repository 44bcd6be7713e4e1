"""model_params.d_norm: spectral -- spectral normalisation of D for any objective and architecture."""
import pytest
import torch
import torch.nn as nn

from bench.engine import Run, read_checkpoint, train
from bench.engine.policy import pack_refusal
from bench.errors import ConfigError
from bench.validate import resolve


def _sn_layers(D):
    return [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


@pytest.mark.parametrize("loss,dataset,model", [("hinge", "mnist-5k", "dcgan"), ("began", "mnist-5k", "dcgan"),
                                                ("acgan", "ring8", "mlp"), ("ns", "mnist-5k", "infogan")])
def test_every_d_layer_has_unit_spectral_norm(loss, dataset, model):
    params = {"d_norm": "spectral"} if model != "dcgan" else {"d_norm": "spectral", "width": 8}
    run = Run(resolve(loss, {"dataset": dataset, "model": model, "model_params": params}))
    layers = _sn_layers(run.D)
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in run.D.modules())
    run.D.train()
    for m in layers:
        for _ in range(30):  # power iterations converge: the effective weight has sigma_max ~ 1
            m.parametrizations.weight.original.requires_grad_(False)
            w = m.weight
        mat = w.flatten(1) if not isinstance(m, nn.ConvTranspose2d) else w.transpose(0, 1).flatten(1)
        assert torch.linalg.matrix_norm(mat, ord=2).item() == pytest.approx(1.0, abs=0.05), m


def test_spectral_runs_train_resume_and_do_not_pack(tmp_path):
    spec = resolve("hinge", {"dataset": "ring8", "steps": 30, "batch_size": 32, "checkpoint_every": 15,
                             "log_every": 15, "model_params": {"d_norm": "spectral"}, "eval": {"extractor": "none"}})
    assert "spectral" in pack_refusal(spec)
    rec = train(spec, tmp_path / "a", progress=False)
    assert rec["status"] == "done"
    ck = read_checkpoint(tmp_path / "a", spec.run_id)
    assert any(k.endswith("_u") for k in ck["D"])  # the power-iteration state is checkpointed
    assert spec.run_id != resolve("hinge", {"dataset": "ring8", "steps": 30, "batch_size": 32, "checkpoint_every": 15,
                                            "log_every": 15, "eval": {"extractor": "none"}}).run_id


def test_d_norm_is_checked():
    with pytest.raises(ConfigError, match="d_norm.*valid: batch, none, spectral"):
        resolve("ns", {"dataset": "mnist-5k", "model_params": {"d_norm": "layer2"}})
    with pytest.raises(ConfigError, match="'mlp' has no batch norm"):
        resolve("ns", {"dataset": "ring8", "model_params": {"d_norm": "batch"}})
