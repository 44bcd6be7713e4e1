import torch.nn.functional as F

from .base import Caps, Objective, StepCtx
from . import LOSSES


def pull_away(code):
    """EBGAN's pull-away term on a batch of codes S (B, d) or packed (K, B, d):
    1 / (B (B − 1)) Σ_{i≠j} (S_i·S_j / (|S_i| |S_j|))², per run."""
    s = F.normalize(code, dim=-1)
    gram = (s @ s.transpose(-1, -2)).pow(2)
    b = code.shape[-2]
    off = gram.sum((-1, -2)) - gram.diagonal(dim1=-2, dim2=-1).sum(-1)
    return off / (b * (b - 1))


@LOSSES.register("ebgan")
class EBGAN(Objective):
    """Energy-based GAN: an autoencoder D whose energy is the mean squared reconstruction error
    D(v) = mean (Dec(Enc(v)) − v)²; L_D = D(x) + max(0, m − D(G(z))), L_G = D(G(z)) + λ_PT·PT, with
    the pull-away term PT on the encoder's codes of the generated batch (Zhao et al., 2017)."""

    name = "ebgan"
    label = "EBGAN"  # display label (reports)
    caps = Caps(autoencoder_d=True, autoencoder_energy="mse")
    defaults = {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    citation = ("Zhao, Mathieu, LeCun, Energy-based Generative Adversarial Network, ICLR 2017 (margin m and "
                "pull-away weight 0.1 as in the paper's EBGAN-PT; m = 1 for [-1, 1] images, the value of "
                "hwalsuklee/tensorflow-generative-model-collections at batch 64)")

    def __init__(self, margin: float = 1.0, pt_weight: float = 0.1):
        self.margin, self.pt_weight = float(margin), float(pt_weight)

    def d_loss(self, D, real, fake, ctx: StepCtx):
        er, ef = D(real).score, D(fake).score
        lr = er.mean(-1)
        lf = F.relu(self.margin - ef).mean(-1)
        return lr + lf, {"d_loss_real": lr, "d_loss_fake": lf, "d_real": er.mean(-1), "d_fake": ef.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        out = D(fake)
        loss = out.score.mean(-1)
        if self.pt_weight == 0:
            return loss, {}
        pt = pull_away(out.aux)
        return loss + self.pt_weight * pt, {"pull_away": pt}
