"""The objectives of Lucic et al. 2018 (and hinge) as pure, keyword-only tensor functions.

Notation: ``l`` is the discriminator logit, ``D = sigmoid(l)``. Every function returns a scalar to
minimise, averaged over the batch. ``-log sigmoid(l)`` is written ``softplus(-l)`` and
``-log(1 - sigmoid(l))`` as ``softplus(l)`` so that large logits never produce inf.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def minimax_d_loss(*, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. 2014, eq. 1: ``-E log D(x) - E log(1 - D(G(z)))`` (MM and NS GAN)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(*, fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. 2014, eq. 1 (saturating): minimise ``E log(1 - D(G(z)))``."""
    return -F.softplus(fake_logits).mean()


def non_saturating_g_loss(*, fake_logits: Tensor) -> Tensor:
    """Goodfellow et al. 2014, sec. 3 (non-saturating): ``-E log D(G(z))``."""
    return F.softplus(-fake_logits).mean()


def least_squares_d_loss(*, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Mao et al. 2017 with a=0, b=c=1 on the sigmoid output, as in compare_gan v1:
    ``0.5 (E (D(x) - 1)^2 + E D(G(z))^2)``."""
    return 0.5 * (
        (torch.sigmoid(real_logits) - 1).square().mean()
        + torch.sigmoid(fake_logits).square().mean()
    )


def least_squares_g_loss(*, fake_logits: Tensor) -> Tensor:
    """Mao et al. 2017 on the sigmoid output: ``0.5 E (D(G(z)) - 1)^2``."""
    return 0.5 * (torch.sigmoid(fake_logits) - 1).square().mean()


def wasserstein_d_loss(*, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Arjovsky et al. 2017: the critic maximises ``E l(x) - E l(G(z))``."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g_loss(*, fake_logits: Tensor) -> Tensor:
    """Arjovsky et al. 2017: ``-E l(G(z))`` (also the hinge G loss of Lim & Ye / SAGAN)."""
    return -fake_logits.mean()


def hinge_d_loss(*, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Lim & Ye 2017; Zhang et al. 2019 (SAGAN) eq. 4: ``E relu(1 - l(x)) + E relu(1 + l(G(z)))``."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def began_d_loss(
    *, real_recon_error: Tensor, fake_recon_error: Tensor, k: float | Tensor
) -> Tensor:
    """Berthelot et al. 2017, eq. 4: ``L(x) - k_t L(G(z))``, ``L(v) = mean |AE(v) - v|``."""
    return real_recon_error - k * fake_recon_error


def began_g_loss(*, fake_recon_error: Tensor) -> Tensor:
    """Berthelot et al. 2017, eq. 4: ``L(G(z))``."""
    return fake_recon_error


def began_k_update(
    *, k: Tensor, real_recon_error: Tensor, fake_recon_error: Tensor, lambda_k: float, gamma: float
) -> Tensor:
    """Berthelot et al. 2017, eq. 4: ``k <- k + lambda_k (gamma L(x) - L(G(z)))``.

    Not clipped, as in compare_gan v1 (the BEGAN paper clips to [0, 1])."""
    return k + lambda_k * (gamma * real_recon_error - fake_recon_error)


def began_convergence(
    *, real_recon_error: Tensor, fake_recon_error: Tensor, gamma: float
) -> Tensor:
    """Berthelot et al. 2017, sec. 3.4.1: ``M = L(x) + |gamma L(x) - L(G(z))|``."""
    return real_recon_error + (gamma * real_recon_error - fake_recon_error).abs()


def reconstruction_error(*, reconstruction: Tensor, target: Tensor) -> Tensor:
    """BEGAN's autoencoder loss ``L(v) = mean |AE(v) - v|`` over all pixels of the batch."""
    return (reconstruction - target).abs().mean()


def vae_loss(*, images: Tensor, recon_logits: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """Kingma & Welling 2014, eq. 10 with a Bernoulli decoder: the negative ELBO per image,
    ``-sum[x log p + (1-x) log(1-p)] + KL(N(mu, sigma^2) || N(0, I))``, ``p = sigmoid(logits)``.

    The KL term is ``0.5 sum(mu^2 + sigma^2 - log sigma^2 - 1)``; both sums run over an image
    (pixels, latent dimensions), then the batch is averaged.
    """
    n = images.shape[0]
    nll = F.binary_cross_entropy_with_logits(recon_logits, images, reduction="sum") / n
    kl = 0.5 * (mu.square() + sigma.square() - 2 * sigma.log() - 1).sum() / n
    return nll + kl
