import torch

from .base import Caps, Objective, StepCtx
from . import LOSSES


@LOSSES.register("began")
class BEGAN(Objective):
    """Boundary equilibrium GAN: autoencoder D with L1 reconstruction loss L(v) = |v − D(v)|,
    L_D = L(x) − k_t L(G(z)), L_G = L(G(z)), k_{t+1} = clip(k_t + λ_k(γ L(x) − L(G(z))), 0, 1);
    convergence measure M = L(x) + |γ L(x) − L(G(z))| (Berthelot et al., 2017)."""

    name = "began"
    label = "BEGAN"  # display label (reports)
    caps = Caps(autoencoder_d=True, stateful=True)
    defaults = {"optim": {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.999]}}
    citation = ("Berthelot, Schumm, Metz, BEGAN: Boundary Equilibrium GANs, arXiv:1703.10717, 2017 "
                "(gamma = 0.5, lambda_k = 0.001, k_0 = 0, Adam lr 1e-4)")

    def __init__(self, gamma: float = 0.5, lambda_k: float = 0.001, k0: float = 0.0):
        self.gamma, self.lambda_k, self.k0 = float(gamma), float(lambda_k), float(k0)

    def init_state(self, device):
        return {"k": torch.tensor(self.k0, device=device)}

    def d_loss(self, D, real, fake, ctx: StepCtx):
        lx, lg = D(real).score.mean(-1), D(fake).score.mean(-1)
        k = ctx.state["k"]
        m = lx + (self.gamma * lx - lg).abs()
        return lx - k * lg, {"d_loss_real": lx, "d_loss_fake": -k * lg, "recon_real": lx,
                             "recon_fake": lg, "k": k.clone(), "convergence_M": m,
                             "d_real": lx, "d_fake": lg}

    def update_state(self, state, logs):
        lx, lg = logs["recon_real"].detach(), logs["recon_fake"].detach()
        state["k"] = (state["k"] + self.lambda_k * (self.gamma * lx - lg)).clamp(0.0, 1.0)

    def g_loss(self, D, fake, ctx: StepCtx):
        return D(fake).score.mean(-1), {}
