"""Objectives: the registry entries the training loop calls, each with its own parameters.

An objective turns networks and a batch into a D loss and a G loss (using the pure functions in
:mod:`ganbench.losses.functional`), and supplies the post-step hooks (weight clipping, BEGAN's k).
The loop never asks which objective it runs; everything it needs is an attribute or method here.
Networks are called as ``G(z, y)`` and ``D(x, y)``; ``y`` (class labels) is None when the run is
unconditional. A logit objective may carry a gradient penalty (:mod:`ganbench.losses.penalties`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import torch
from pydantic import Field
from torch import Tensor, nn

from ganbench.config import Block
from ganbench.losses import functional as L
from ganbench.losses.penalties import Penalty
from ganbench.registry import Registry

OBJECTIVES: Registry[type[Objective]] = Registry("objective.name")

Logs = dict[str, Tensor]


class NoParams(Block):
    """An objective without parameters of its own."""


class Objective:
    """Base class. ``Params`` is the model of the objective's own params fields;
    ``discriminator`` names the D the architecture must build (``critic``: image -> logit;
    ``autoencoder``: image -> image; ``encoder``: image -> (mu, sigma)); ``latents`` the priors
    of z it accepts; ``trains_discriminator`` whether D has an optimiser of its own;
    ``conditional`` whether it can use class labels; ``takes_penalty`` whether a gradient penalty
    can be added to its D loss."""

    Params: type[Block] = NoParams
    discriminator = "critic"
    generator_activation = "lrelu"
    latents = ("uniform", "normal")
    trains_discriminator = True
    conditional = False
    takes_penalty = False

    def __init__(self, params: Block, penalty: Penalty | None = None) -> None:
        self.params, self.penalty = params, penalty

    def d_loss(
        self, *, G, D, real, z, y_real=None, y_fake=None, joint=False
    ) -> tuple[Tensor, Logs]:
        raise NotImplementedError

    def g_loss(self, *, G, D, real, z, y_fake=None) -> tuple[Tensor, Logs]:
        raise NotImplementedError

    def generator_parameters(self, G: nn.Module, D: nn.Module) -> Iterable[nn.Parameter]:
        return G.parameters()

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        """Called after every D optimizer step."""

    def state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        pass


class Labelled(nn.Module):
    """``net`` with its class labels bound: ``Labelled(D, y)(x) == D(x, y)``; lets a penalty
    (written for an image -> logit D) run on a conditional D."""

    def __init__(self, net: nn.Module, y: Tensor | None) -> None:
        super().__init__()
        self.net, self.y = net, y

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x, self.y)


class LogitObjective(Objective):
    """A GAN whose D returns one logit per image; subclasses name the two loss functions."""

    d_fn: Callable[..., Tensor]
    g_fn: Callable[..., Tensor]
    conditional = True
    takes_penalty = True

    def d_loss(self, *, G, D, real, z, y_real=None, y_fake=None, joint=False):
        with torch.no_grad():
            fake = G(z, y_fake)
        if joint:  # one D forward on real and fake (BigGAN-PyTorch's G_D with D on both)
            y = None if y_real is None else torch.cat([y_real, y_fake])
            logits = D(torch.cat([real, fake.to(real.dtype)]), y)
            real_logits, fake_logits = logits[: real.shape[0]], logits[real.shape[0] :]
        else:  # two forwards (compare_gan v1)
            real_logits, fake_logits = D(real, y_real), D(fake, y_fake)
        loss = type(self).d_fn(real_logits=real_logits, fake_logits=fake_logits)
        logs = {"d_loss": loss.detach()}
        if self.penalty is not None:
            penalty = self.penalty.fn(Labelled(D, y_real), real, fake)
            logs["penalty"] = penalty.detach()
            loss = loss + self.penalty.weight * penalty
        return loss, logs

    def g_loss(self, *, G, D, real, z, y_fake=None):
        loss = type(self).g_fn(fake_logits=D(G(z, y_fake), y_fake))
        return loss, {"g_loss": loss.detach()}


@OBJECTIVES.register("mm")
class MinimaxGAN(LogitObjective):
    """MM GAN (Goodfellow et al. 2014): the saturating minimax game."""

    d_fn, g_fn = L.minimax_d_loss, L.minimax_g_loss


@OBJECTIVES.register("ns")
class NonSaturatingGAN(LogitObjective):
    """NS GAN (Goodfellow et al. 2014): G maximises log D(G(z)). With the ``dragan`` penalty it
    is DRAGAN (Kodali et al. 2017), as in compare_gan v1."""

    d_fn, g_fn = L.minimax_d_loss, L.non_saturating_g_loss


@OBJECTIVES.register("lsgan")
class LeastSquaresGAN(LogitObjective):
    """LSGAN (Mao et al. 2017) on the sigmoid output, as in compare_gan v1."""

    d_fn, g_fn = L.least_squares_d_loss, L.least_squares_g_loss


class WassersteinParams(Block):
    # WGAN (Arjovsky et al. 2017) clips every D parameter to [-clip, clip] after each D step;
    # null: no clipping (WGAN-GP: the ``gp`` penalty instead, Gulrajani et al. 2017)
    clip: float | None = Field(None, gt=0)


@OBJECTIVES.register("wgan")
class WassersteinGAN(LogitObjective):
    """The Wasserstein loss: WGAN with ``clip``, WGAN-GP with the ``gp`` penalty."""

    Params = WassersteinParams
    d_fn, g_fn = L.wasserstein_d_loss, L.wasserstein_g_loss

    @torch.no_grad()
    def after_d_step(self, D):
        if self.params.clip is not None:
            for p in D.parameters():
                p.clamp_(-self.params.clip, self.params.clip)


@OBJECTIVES.register("hinge")
class HingeGAN(LogitObjective):
    """Hinge loss (Lim & Ye 2017), as used by SAGAN and BigGAN."""

    d_fn, g_fn = L.hinge_d_loss, L.wasserstein_g_loss


class BeganParams(Block):
    gamma: float = Field(0.75, gt=0, le=1)  # the diversity ratio
    lambda_k: float = Field(1e-3, gt=0)  # the learning rate of k


@OBJECTIVES.register("began")
class BEGAN(Objective):
    """BEGAN (Berthelot et al. 2017): D is an autoencoder; k balances its two reconstruction
    errors. k is not clipped (compare_gan v1; the paper clips to [0, 1])."""

    Params = BeganParams
    discriminator = "autoencoder"

    def __init__(self, params: BeganParams, penalty: Penalty | None = None) -> None:
        super().__init__(params, penalty)
        self.k = torch.zeros(())  # k_0 = 0
        self._errors: list[tuple[Tensor, Tensor]] = []  # this D step's (micro-)batches

    def d_loss(self, *, G, D, real, z, y_real=None, y_fake=None, joint=False):
        with torch.no_grad():
            fake = G(z)
        real_err = L.reconstruction_error(reconstruction=D(real), target=real)
        fake_err = L.reconstruction_error(reconstruction=D(fake), target=fake)
        self.k = self.k.to(real.device)
        loss = L.began_d_loss(real_recon_error=real_err, fake_recon_error=fake_err, k=self.k)
        self._errors.append((real_err.detach(), fake_err.detach()))
        convergence = L.began_convergence(
            real_recon_error=real_err.detach(),
            fake_recon_error=fake_err.detach(),
            gamma=self.params.gamma,
        )
        return loss, {"d_loss": loss.detach(), "k": self.k.clone(), "convergence": convergence}

    def g_loss(self, *, G, D, real, z, y_fake=None):
        fake = G(z)
        loss = L.began_g_loss(
            fake_recon_error=L.reconstruction_error(reconstruction=D(fake), target=fake)
        )
        return loss, {"g_loss": loss.detach()}

    @torch.no_grad()
    def after_d_step(self, D):
        """k's update from the step's mean errors (over its micro-batches when accumulating)."""
        real_err, fake_err = (torch.stack(e).mean(0) for e in zip(*self._errors, strict=True))
        self._errors = []
        self.k = L.began_k_update(
            k=self.k,
            real_recon_error=real_err,
            fake_recon_error=fake_err,
            lambda_k=self.params.lambda_k,
            gamma=self.params.gamma,
        )

    def state_dict(self):
        return {"k": self.k.detach().cpu()}

    def load_state_dict(self, state):
        self.k = state["k"].clone()


@OBJECTIVES.register("vae")
class VAE(Objective):
    """VAE (Kingma & Welling 2014): D is the encoder, G the Bernoulli decoder; one optimizer
    trains both on the negative ELBO, so every step is a G step. z ~ N(0, I), the ELBO's prior."""

    discriminator = "encoder"
    generator_activation = "relu"
    latents = ("normal",)
    trains_discriminator = False

    def g_loss(self, *, G, D, real, z, y_fake=None):
        mu, sigma = D(real)
        latent = mu + sigma * torch.randn_like(mu)  # reparameterisation
        loss = L.vae_loss(images=real, recon_logits=G.logits(latent), mu=mu, sigma=sigma)
        return loss, {"g_loss": loss.detach()}

    def generator_parameters(self, G, D):
        return itertools.chain(G.parameters(), D.parameters())
