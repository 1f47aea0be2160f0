"""Objectives: the registry entries the training loop calls, one per model of Lucic et al.

An objective turns networks and a batch into a D loss and a G loss (using the pure functions in
:mod:`ganbench.losses.functional`), and supplies the post-step hooks (weight clipping, BEGAN's k).
The loop never asks which objective it runs; everything it needs is an attribute or method here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from ganbench.config import Hyperparameters
from ganbench.losses import functional as L
from ganbench.losses.penalties import dragan_penalty, wgan_gp_penalty
from ganbench.registry import Registry

LOSSES: Registry[type[Objective]] = Registry("lucic.models")

Logs = dict[str, Tensor]


class Objective:
    """Base class. ``discriminator`` names the D variant the architecture must build
    (``critic``: image -> logit; ``autoencoder``: image -> image; ``encoder``: image -> (mu, sigma)),
    ``latent`` the prior of z, ``trains_discriminator`` whether D has an optimizer of its own."""

    discriminator = "critic"
    generator_activation = "lrelu"
    latent = "uniform"  # z ~ U(-1, 1), Lucic et al. sec. 5
    trains_discriminator = True

    def __init__(self, hp: Hyperparameters) -> None:
        self.hp = hp

    def d_loss(self, *, G: nn.Module, D: nn.Module, real: Tensor, z: Tensor) -> tuple[Tensor, Logs]:
        raise NotImplementedError

    def g_loss(self, *, G: nn.Module, D: nn.Module, real: Tensor, z: Tensor) -> tuple[Tensor, Logs]:
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


class LogitObjective(Objective):
    """A GAN whose D returns one logit per image; subclasses name the two loss functions."""

    d_fn: Callable[..., Tensor]
    g_fn: Callable[..., Tensor]

    def penalty(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return None

    def d_loss(self, *, G, D, real, z):
        with torch.no_grad():
            fake = G(z)
        loss = type(self).d_fn(real_logits=D(real), fake_logits=D(fake))
        logs = {"d_loss": loss.detach()}
        penalty = self.penalty(D, real, fake)
        if penalty is not None:
            logs["penalty"] = penalty.detach()
            loss = loss + self.hp.penalty_weight * penalty
        return loss, logs

    def g_loss(self, *, G, D, real, z):
        loss = type(self).g_fn(fake_logits=D(G(z)))
        return loss, {"g_loss": loss.detach()}


@LOSSES.register("mm")
class MinimaxGAN(LogitObjective):
    """MM GAN (Goodfellow et al. 2014): the saturating minimax game."""

    d_fn, g_fn = L.minimax_d_loss, L.minimax_g_loss


@LOSSES.register("ns")
class NonSaturatingGAN(LogitObjective):
    """NS GAN (Goodfellow et al. 2014): G maximises log D(G(z))."""

    d_fn, g_fn = L.minimax_d_loss, L.non_saturating_g_loss


@LOSSES.register("lsgan")
class LeastSquaresGAN(LogitObjective):
    """LSGAN (Mao et al. 2017) on the sigmoid output, as in compare_gan v1."""

    d_fn, g_fn = L.least_squares_d_loss, L.least_squares_g_loss


@LOSSES.register("wgan")
class WassersteinGAN(LogitObjective):
    """WGAN (Arjovsky et al. 2017): every D parameter clipped to [-clip, clip] after each D step."""

    d_fn, g_fn = L.wasserstein_d_loss, L.wasserstein_g_loss

    @torch.no_grad()
    def after_d_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.hp.clip, self.hp.clip)


@LOSSES.register("wgan_gp")
class WassersteinGANGP(LogitObjective):
    """WGAN-GP (Gulrajani et al. 2017): Wasserstein loss + lambda * gradient penalty."""

    d_fn, g_fn = L.wasserstein_d_loss, L.wasserstein_g_loss

    def penalty(self, D, real, fake):
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
        return wgan_gp_penalty(D, real=real, fake=fake, alpha=alpha)


@LOSSES.register("dragan")
class DRAGAN(LogitObjective):
    """DRAGAN (Kodali et al. 2017): NS GAN + lambda * a gradient penalty around the data."""

    d_fn, g_fn = L.minimax_d_loss, L.non_saturating_g_loss

    def penalty(self, D, real, fake):
        noise = torch.rand_like(real)
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
        return dragan_penalty(D, real=real, noise=noise, alpha=alpha)


@LOSSES.register("hinge")
class HingeGAN(LogitObjective):
    """Hinge loss (Lim & Ye 2017), as used by SAGAN and BigGAN."""

    d_fn, g_fn = L.hinge_d_loss, L.wasserstein_g_loss


@LOSSES.register("began")
class BEGAN(Objective):
    """BEGAN (Berthelot et al. 2017): D is an autoencoder; k balances its two reconstruction errors."""

    discriminator = "autoencoder"

    def __init__(self, hp: Hyperparameters) -> None:
        super().__init__(hp)
        self.k = torch.zeros(())  # k_0 = 0
        self._last: tuple[Tensor, Tensor] | None = None

    def d_loss(self, *, G, D, real, z):
        with torch.no_grad():
            fake = G(z)
        real_err = L.reconstruction_error(reconstruction=D(real), target=real)
        fake_err = L.reconstruction_error(reconstruction=D(fake), target=fake)
        self.k = self.k.to(real.device)
        loss = L.began_d_loss(real_recon_error=real_err, fake_recon_error=fake_err, k=self.k)
        self._last = (real_err.detach(), fake_err.detach())
        convergence = L.began_convergence(
            real_recon_error=real_err.detach(),
            fake_recon_error=fake_err.detach(),
            gamma=self.hp.began_gamma,
        )
        return loss, {"d_loss": loss.detach(), "k": self.k.clone(), "convergence": convergence}

    def g_loss(self, *, G, D, real, z):
        fake = G(z)
        loss = L.began_g_loss(
            fake_recon_error=L.reconstruction_error(reconstruction=D(fake), target=fake)
        )
        return loss, {"g_loss": loss.detach()}

    @torch.no_grad()
    def after_d_step(self, D):
        real_err, fake_err = self._last
        self.k = L.began_k_update(
            k=self.k,
            real_recon_error=real_err,
            fake_recon_error=fake_err,
            lambda_k=self.hp.began_lambda_k,
            gamma=self.hp.began_gamma,
        )

    def state_dict(self):
        return {"k": self.k.detach().cpu()}

    def load_state_dict(self, state):
        self.k = state["k"].clone()


@LOSSES.register("vae")
class VAE(Objective):
    """VAE (Kingma & Welling 2014): D is the encoder, G the Bernoulli decoder; one optimizer
    trains both on the negative ELBO, so every step is a G step."""

    discriminator = "encoder"
    generator_activation = "relu"
    latent = "normal"
    trains_discriminator = False

    def g_loss(self, *, G, D, real, z):
        mu, sigma = D(real)
        latent = mu + sigma * torch.randn_like(mu)  # reparameterisation
        loss = L.vae_loss(images=real, recon_logits=G.logits(latent), mu=mu, sigma=sigma)
        return loss, {"g_loss": loss.detach()}

    def generator_parameters(self, G, D):
        return itertools.chain(G.parameters(), D.parameters())
