"""GAN objectives, one file each, registered by name in LOSSES."""
from ..registry import Registry

LOSSES = Registry("objective")

from . import mm, ns, lsgan, wgan, wgan_gp, dragan, began, acgan, infogan, hinge, cgan, ebgan, vae  # noqa: E402,F401
from .base import Caps, DOut, Objective, StepCtx  # noqa: E402,F401
