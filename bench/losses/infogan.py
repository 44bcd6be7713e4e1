import torch
import torch.nn.functional as F

from .base import Caps, Objective, StepCtx, bce_logits, cross_entropy_per_run, gan_d_loss
from . import LOSSES


@LOSSES.register("infogan")
class InfoGAN(Objective):
    """NS GAN minus λ·I(c; G(z, c)), the variational lower bound through a Q head sharing D's
    body: a categorical code (cross-entropy) and continuous U(−1, 1) codes (Gaussian
    log-likelihood with unit variance, i.e. ½‖ĉ − c‖²) (Chen et al., 2016).

    Q is trained in the D step; the G step updates only G, so D's parameters never move
    during a G step."""

    name = "infogan"
    label = "InfoGAN"  # display label (reports)
    caps = Caps(aux_head="info", label_smoothing=True)
    defaults = {"optim": {"name": "adam", "lr_d": 2e-4, "lr_g": 1e-3, "betas": [0.5, 0.999]}}
    citation = ("Chen et al., InfoGAN: Interpretable Representation Learning by Information "
                "Maximizing GANs, NeurIPS 2016 (one 10-way categorical + 2 continuous codes; "
                "D lr 2e-4, G lr 1e-3; lambda 1 for the categorical code and a smaller lambda for the "
                "continuous codes, as the paper advises (Sec. 6: 'a smaller lambda is typically used' so "
                "that the terms are on the GAN loss's scale): 0.1 here; openai/InfoGAN's info_reg_coeff "
                "= 1.0 weighs both, set lambda_cont: 1.0 for that)")

    def __init__(self, cat_dim: int = 10, cont_dim: int = 2, lambda_cat: float = 1.0, lambda_cont: float = 0.1):
        self.cat_dim, self.cont_dim = int(cat_dim), int(cont_dim)
        self.lambda_cat, self.lambda_cont = float(lambda_cat), float(lambda_cont)

    def g_cond_dim(self, num_classes):
        return self.cat_dim + self.cont_dim

    def aux_dim(self, num_classes, z_dim=0):
        return self.cat_dim + self.cont_dim

    def sample_condition(self, n, num_classes, gen, device):
        c = torch.randint(self.cat_dim, (n,), generator=gen, device=device)
        u = torch.rand(n, self.cont_dim, generator=gen, device=device) * 2 - 1
        return torch.cat([F.one_hot(c, self.cat_dim).float(), u], 1), (c, u)

    def info_loss(self, aux, target):
        c, u = target
        cat = cross_entropy_per_run(aux[..., :self.cat_dim], c)
        cont = 0.5 * (aux[..., self.cat_dim:] - u).pow(2).sum(-1).mean(-1)
        return self.lambda_cat * cat + self.lambda_cont * cont

    def d_loss(self, D, real, fake, ctx: StepCtx):
        r, f = D(real), D(fake)
        loss, logs = gan_d_loss(r.score, f.score, ctx.real_target)
        info = self.info_loss(f.aux, ctx.cond_target)
        return loss + info, {**logs, "aux_loss": info, "d_real": r.score.mean(-1), "d_fake": f.score.mean(-1)}

    def g_loss(self, D, fake, ctx: StepCtx):
        f = D(fake)
        info = self.info_loss(f.aux, ctx.cond_target)
        return bce_logits(f.score, 1.0).mean(-1) + info, {"g_aux_loss": info}
