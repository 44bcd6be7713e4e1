import math

import torch
import torch.nn.functional as F

from .base import Caps, Objective, StepCtx
from . import LOSSES
from ..errors import ConfigError

DECODERS = ("auto", "bernoulli", "gaussian")


@LOSSES.register("vae")
class VAE(Objective):
    """Variational autoencoder, the baseline row of Lucic et al. 2018 (Kingma & Welling, 2014):
    the same networks as the GANs -- D's body and auxiliary head as the encoder q(z|x) (mean and
    log-variance), G as the decoder -- trained on the negative ELBO, reconstruction + KL(q || N(0, I)).
    Decoder ``bernoulli`` (images: pixels in [0, 1] as probabilities, as the paper) or ``gaussian``
    with a fixed ``sigma`` (2-D points); ``auto`` picks by the data."""

    name = "vae"
    label = "VAE"  # display label (reports)
    caps = Caps(step="likelihood", packable=False)
    defaults = {"optim": {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]}}
    citation = ("Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014; the VAE row of Lucic et al., "
                "Are GANs Created Equal?, NeurIPS 2018 (Bernoulli decoder on MNIST-like data)")

    def __init__(self, decoder: str = "auto", sigma: float = 0.1):
        if decoder not in DECODERS:
            raise ConfigError(f"loss_params.decoder: unknown VAE decoder {decoder!r}; valid: {', '.join(DECODERS)}")
        if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or sigma <= 0:
            raise ConfigError(f"loss_params.sigma: expected a number > 0, got {sigma!r}")
        self.decoder, self.sigma = decoder, float(sigma)

    def aux_dim(self, num_classes, z_dim=0):
        return 2 * z_dim  # q(z|x): mean and log-variance

    def loss(self, encoder, decoder, real, ctx: StepCtx):
        mu, logvar = encoder(real).aux.chunk(2, -1)
        eps = torch.randn(mu.shape, generator=ctx.gen, device=mu.device, dtype=mu.dtype)
        xhat = decoder(mu + (0.5 * logvar).exp() * eps)  # G's tanh output, in [-1, 1]
        bernoulli = self.decoder == "bernoulli" or (self.decoder == "auto" and real.dim() > 2)
        if bernoulli:
            p = ((xhat + 1) / 2).clamp(1e-6, 1 - 1e-6)
            rec = F.binary_cross_entropy(p, (real + 1) / 2, reduction="none").flatten(1).sum(1)
        else:
            d = real[0].numel()
            rec = ((xhat - real).pow(2).flatten(1).sum(1) / (2 * self.sigma ** 2)
                   + d * math.log(self.sigma * math.sqrt(2 * math.pi)))
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        return (rec + kl).mean(-1), {"reconstruction": rec.mean(-1), "kl": kl.mean(-1)}
