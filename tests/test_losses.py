"""Losses: every registered objective against values written out by hand from Lucic et al. 2018,
numerical stability at extreme logits, the gradient penalties on critics with known gradients, and
the objectives' hooks (weight clipping, BEGAN's k, the VAE's single optimizer); how an objective
calls its networks (``G(z, y)``, ``D(x, y)``: labels routed, D on real and fake in one forward or
two) and carries a penalty; the objectives' own params."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from ganbench.config import validate
from ganbench.errors import ConfigError
from ganbench.losses import OBJECTIVES, PENALTIES, Labelled, Penalty, PenaltyParams
from ganbench.losses import functional as L
from ganbench.losses.objectives import BeganParams, LogitObjective, NoParams, WassersteinParams
from ganbench.losses.penalties import dragan_penalty, wgan_gp_penalty
from ganbench.models import ARCHITECTURES, InfoGANParams
from ganbench.models.sampling import LATENTS

# ---------------------------------------------------------------------------------------------
# Hand arithmetic. D(x) = sigmoid(l(x)); everything below is math.log / math.exp on plain floats.


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


REAL = [2.0, -1.0, 0.5]  # real_logits
FAKE = [-1.5, 0.0, 2.5]  # fake_logits (mean 1/3, so the Wasserstein losses are not 0)

# -E log D(x) - E log(1 - D(x^)), the D loss of MM, NS and DRAGAN (without penalty)
MINIMAX_D = -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE)
NS_G = -mean(math.log(sig(f)) for f in FAKE)
WASSERSTEIN_D = -(2.0 - 1.0 + 0.5) / 3 + (-1.5 + 0.0 + 2.5) / 3
WASSERSTEIN_G = -(-1.5 + 0.0 + 2.5) / 3

# BEGAN toy: D is the "autoencoder" v -> v / 2, so L(v) = mean |v/2 - v| = mean(v) / 2.
BEGAN_REAL = [[0.2, 0.8], [0.6, 0.4]]  # two 1x1x2 images
BEGAN_FAKE = [[0.1, 0.1], [0.2, 0.2]]
BEGAN_L_REAL = (0.2 + 0.8 + 0.6 + 0.4) / 4 / 2  # 0.25
BEGAN_L_FAKE = (0.1 + 0.1 + 0.2 + 0.2) / 4 / 2  # 0.075

# VAE toy: one 1x1x1x2 image, fixed decoder logits and posterior (mu, sigma), z_dim 2.
VAE_X, VAE_LOGITS = [0.25, 1.0], [0.5, -1.0]
VAE_MU, VAE_SIGMA = [0.3, -0.2], [0.8, 1.5]
VAE_BCE = -sum(
    x * math.log(sig(lg)) + (1 - x) * math.log(1 - sig(lg))
    for x, lg in zip(VAE_X, VAE_LOGITS, strict=True)
)
VAE_KL = 0.5 * sum(
    m * m + s * s - math.log(s * s) - 1 for m, s in zip(VAE_MU, VAE_SIGMA, strict=True)
)

# (D loss, G loss) per registered objective. Logit objectives: their d_fn / g_fn on (REAL, FAKE),
# and their d_loss / g_loss on networks that output exactly those logits. BEGAN and VAE: their
# d_loss / g_loss on the toy networks above (the VAE has no D loss). A new entry in OBJECTIVES
# without a row here fails test_every_loss_matches_hand_values. The penalties (WGAN-GP = wgan +
# gp, DRAGAN = ns + dragan) are tested below.
EXPECTED: dict[str, tuple[float | None, float]] = {
    "mm": (MINIMAX_D, mean(math.log(1 - sig(f)) for f in FAKE)),  # saturating: E log(1 - D)
    "ns": (MINIMAX_D, NS_G),
    "lsgan": (
        0.5 * (mean((sig(r) - 1) ** 2 for r in REAL) + mean(sig(f) ** 2 for f in FAKE)),
        0.5 * mean((sig(f) - 1) ** 2 for f in FAKE),
    ),
    "wgan": (WASSERSTEIN_D, WASSERSTEIN_G),
    # hinge: relu(1 - REAL) = [0, 2, .5], relu(1 + FAKE) = [0, 1, 3.5]
    "hinge": ((0.0 + 2.0 + 0.5) / 3 + (0.0 + 1.0 + 3.5) / 3, WASSERSTEIN_G),
    "began": (BEGAN_L_REAL - 0.0 * BEGAN_L_FAKE, BEGAN_L_FAKE),  # k_0 = 0
    "vae": (None, VAE_BCE + VAE_KL),
}

LOGIT_NAMES = [n for n in OBJECTIVES.names() if issubclass(OBJECTIVES.get(n), LogitObjective)]


def t(values, shape=None) -> Tensor:
    x = torch.tensor(values, dtype=torch.float64)
    return x if shape is None else x.reshape(shape)


class Const(nn.Module):
    """A network that ignores its input: G(z, y) = value (and G.logits(z) = value)."""

    def __init__(self, value) -> None:
        super().__init__()
        self.value = value

    def forward(self, _x, y=None):
        assert y is None
        return self.value

    def logits(self, _z):
        return self.value


class PixelLogit(nn.Module):
    """A critic whose logit is the sum of an image's pixels (1x1x1 images: the pixel itself)."""

    def forward(self, x: Tensor, y=None) -> Tensor:
        assert y is None
        return x.flatten(1).sum(1)


class Halve(nn.Module):
    """BEGAN's autoencoder, simplified: AE(v) = v / 2."""

    def forward(self, x: Tensor, y=None) -> Tensor:
        assert y is None
        return 0.5 * x


def toy_setup(name: str) -> dict:
    """Networks and a real batch on which EXPECTED[name] holds, chosen by the D variant."""
    kind = OBJECTIVES.get(name).discriminator
    z = torch.zeros(2, 2, dtype=torch.float64)
    if kind == "critic":
        return dict(G=Const(t(FAKE, (3, 1, 1, 1))), D=PixelLogit(), real=t(REAL, (3, 1, 1, 1)), z=z)
    if kind == "autoencoder":
        return dict(
            G=Const(t(BEGAN_FAKE, (2, 1, 1, 2))), D=Halve(), real=t(BEGAN_REAL, (2, 1, 1, 2)), z=z
        )
    if kind == "encoder":
        D = Const((t([VAE_MU]), t([VAE_SIGMA])))
        return dict(G=Const(t(VAE_LOGITS, (1, 1, 1, 2))), D=D, real=t(VAE_X, (1, 1, 1, 2)), z=z)
    raise AssertionError(f"no toy networks for discriminator kind {kind!r}")


def objective(name: str, penalty: tuple[str, float] | None = None, **params):
    """The registered objective ``name`` with its params (defaults filled) and a penalty."""
    cls = OBJECTIVES.get(name)
    pen = None if penalty is None else Penalty(penalty[1], PENALTIES.get(penalty[0]))
    return cls(cls.Params(**params), pen)


# ---------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_loss_matches_hand_values(name):
    assert name in EXPECTED, f"add hand-computed (D, G) values for the new objective {name!r}"
    d_expected, g_expected = EXPECTED[name]
    cls = OBJECTIVES.get(name)
    if issubclass(cls, LogitObjective):
        real, fake = t(REAL), t(FAKE)
        assert float(cls.d_fn(real_logits=real, fake_logits=fake)) == pytest.approx(
            d_expected, rel=1e-12, abs=1e-15
        )
        assert float(cls.g_fn(fake_logits=fake)) == pytest.approx(g_expected, rel=1e-12, abs=1e-15)
    # The objective's own d_loss / g_loss, on networks that produce the toy logits / images.
    obj = objective(name)
    setup = toy_setup(name)
    if d_expected is None:
        assert not obj.trains_discriminator
    else:
        loss, logs = obj.d_loss(**setup)
        assert float(loss.detach()) == pytest.approx(d_expected, rel=1e-12, abs=1e-15)
        assert float(logs["d_loss"]) == pytest.approx(d_expected, rel=1e-12, abs=1e-15)
    loss, logs = obj.g_loss(**setup)
    assert float(loss.detach()) == pytest.approx(g_expected, rel=1e-12, abs=1e-15)
    assert float(logs["g_loss"]) == pytest.approx(g_expected, rel=1e-12, abs=1e-15)
    assert set(logs) == {"g_loss"}


def test_mm_g_loss_saturates_where_ns_does_not():
    # At l(x^) = -10 (D sure the sample is fake): d/dl log(1 - D) = -D, d/dl -log D = -(1 - D).
    for fn, expected in [(L.minimax_g_loss, -sig(-10.0)), (L.non_saturating_g_loss, -sig(10.0))]:
        fake = t([-10.0]).requires_grad_(True)
        fn(fake_logits=fake).backward()
        assert float(fake.grad) == pytest.approx(expected, rel=1e-12)
    fake = t(FAKE)
    torch.testing.assert_close(
        L.minimax_g_loss(fake_logits=fake), -nn.functional.softplus(fake).mean(), rtol=0, atol=0
    )
    torch.testing.assert_close(
        L.non_saturating_g_loss(fake_logits=fake),
        nn.functional.softplus(-fake).mean(),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize("name", LOGIT_NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logit_losses_are_finite_with_finite_gradients_at_extreme_logits(name, dtype):
    cls = OBJECTIVES.get(name)
    for real_values, fake_values in [([1e4, -1e4], [-1e4, 1e4]), ([1e4, 1e4], [1e4, -1e4])]:
        real = torch.tensor(real_values, dtype=dtype, requires_grad=True)
        fake = torch.tensor(fake_values, dtype=dtype, requires_grad=True)
        d = cls.d_fn(real_logits=real, fake_logits=fake)
        g = cls.g_fn(fake_logits=fake)
        assert torch.isfinite(d) and torch.isfinite(g)
        (d + g).backward()
        assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_minimax_d_loss_is_exact_at_extreme_logits():
    # softplus form: a confident correct D costs 0, a confident wrong one costs |l| per term.
    d_right = L.minimax_d_loss(real_logits=t([1e4]), fake_logits=t([-1e4]))
    d_wrong = L.minimax_d_loss(real_logits=t([-1e4]), fake_logits=t([1e4]))
    assert float(d_right) == pytest.approx(0.0, abs=1e-300)
    assert float(d_wrong) == pytest.approx(2e4, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# BEGAN and VAE functions


def test_reconstruction_error_is_mean_absolute_error():
    recon, target = t([[0.0, 0.5], [1.0, 0.25]]), t([[0.5, 0.5], [0.0, 1.0]])
    expected = (0.5 + 0.0 + 1.0 + 0.75) / 4
    assert float(L.reconstruction_error(reconstruction=recon, target=target)) == pytest.approx(
        expected, rel=1e-12
    )


def test_began_functions_match_their_formulas():
    real_err, fake_err = t(0.3), t(0.1)
    k = t(0.02)
    d = L.began_d_loss(real_recon_error=real_err, fake_recon_error=fake_err, k=k)
    assert float(d) == pytest.approx(0.3 - 0.02 * 0.1, rel=1e-12)
    assert float(L.began_g_loss(fake_recon_error=fake_err)) == pytest.approx(0.1, rel=1e-12)
    k_new = L.began_k_update(
        k=k, real_recon_error=real_err, fake_recon_error=fake_err, lambda_k=1e-3, gamma=0.75
    )
    assert float(k_new) == pytest.approx(0.02 + 1e-3 * (0.75 * 0.3 - 0.1), rel=1e-12)
    m = L.began_convergence(real_recon_error=real_err, fake_recon_error=fake_err, gamma=0.75)
    assert float(m) == pytest.approx(0.3 + abs(0.75 * 0.3 - 0.1), rel=1e-12)
    # v1 does not clip k: a large fake error drives it below 0.
    k_neg = L.began_k_update(
        k=t(0.0), real_recon_error=t(0.1), fake_recon_error=t(0.5), lambda_k=0.1, gamma=0.5
    )
    assert float(k_neg) == pytest.approx(0.1 * (0.5 * 0.1 - 0.5), rel=1e-12)


def test_vae_loss_matches_bce_sum_plus_kl():
    args = dict(
        images=t(VAE_X, (1, 1, 1, 2)),
        recon_logits=t(VAE_LOGITS, (1, 1, 1, 2)),
        mu=t([VAE_MU]),
        sigma=t([VAE_SIGMA]),
    )
    assert float(L.vae_loss(**args)) == pytest.approx(VAE_BCE + VAE_KL, rel=1e-12)
    # Sums run over one image; the batch is averaged: two copies give the same value.
    doubled = {k: torch.cat([v, v]) for k, v in args.items()}
    assert float(L.vae_loss(**doubled)) == pytest.approx(VAE_BCE + VAE_KL, rel=1e-12)


def test_vae_loss_is_finite_at_extreme_logits():
    logits = t([1e4, -1e4], (1, 1, 1, 2)).requires_grad_(True)
    loss = L.vae_loss(
        images=t([0.0, 1.0], (1, 1, 1, 2)), recon_logits=logits, mu=t([[0.0]]), sigma=t([[1.0]])
    )
    assert float(loss.detach()) == pytest.approx(2e4, rel=1e-12)  # both pixels confidently wrong
    loss.backward()
    assert torch.isfinite(logits.grad).all()


# ---------------------------------------------------------------------------------------------
# Penalties


class Linear(nn.Module):
    """D(x) = sum(w * x) per image: its input gradient is w everywhere."""

    def __init__(self, w: Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: Tensor) -> Tensor:
        return (self.w * x).flatten(1).sum(1)


W = [[[0.3, -0.4], [0.5, 0.1]]]  # (1, 2, 2); |w|^2 = 0.51


def test_wgan_gp_penalty_on_a_linear_critic():
    D = Linear(t(W))
    g = torch.Generator().manual_seed(0)
    real = torch.rand(3, 1, 2, 2, generator=g, dtype=torch.float64)
    fake = torch.rand(3, 1, 2, 2, generator=g, dtype=torch.float64)
    alpha = torch.rand(3, 1, 1, 1, generator=g, dtype=torch.float64)
    norm = math.sqrt(1e-4 + 0.09 + 0.16 + 0.25 + 0.01)
    penalty = wgan_gp_penalty(D, real=real, fake=fake, alpha=alpha)
    assert float(penalty.detach()) == pytest.approx((norm - 1) ** 2, rel=1e-12)
    # Double backprop reaches D's parameters: d/dw (|w|_eps - 1)^2 = 2 (|w|_eps - 1) w / |w|_eps.
    penalty.backward()
    torch.testing.assert_close(D.w.grad, 2 * (norm - 1) / norm * t(W), rtol=1e-12, atol=1e-15)


def test_wgan_gp_penalty_interpolates_real_and_fake():
    # D(x) = |x|^2 / 2 has input gradient x~, so the penalty depends on x~ = x + alpha (x^ - x).
    def D(x):
        return 0.5 * x.flatten(1).square().sum(1)

    real = t([[1.0, 2.0], [0.0, -1.0]], (2, 1, 1, 2))
    fake = t([[3.0, 0.0], [2.0, 1.0]], (2, 1, 1, 2))
    alpha = t([0.25, 0.5], (2, 1, 1, 1))
    # x~_1 = [1.5, 1.5], x~_2 = [1.0, 0.0]
    norms = [math.sqrt(1e-4 + 1.5**2 + 1.5**2), math.sqrt(1e-4 + 1.0**2 + 0.0**2)]
    expected = mean((n - 1) ** 2 for n in norms)
    got = wgan_gp_penalty(D, real=real, fake=fake, alpha=alpha)
    assert float(got.detach()) == pytest.approx(expected, rel=1e-12)


def test_dragan_penalty_on_a_linear_critic():
    w = [0.3, -0.4]  # D(x) = w . x, so grad sigmoid(D(x~)) = sigmoid'(l) w
    D = Linear(t(w, (1, 1, 2)))
    x = [[0.2, 0.6], [0.9, 0.1]]
    noise = [[0.5, 0.25], [0.75, 0.0]]
    alpha = [0.5, 0.2]
    flat = [v for row in x for v in row]
    std = math.sqrt(mean((v - mean(flat)) ** 2 for v in flat))  # population std of the batch
    terms = []
    for xi, ni, ai in zip(x, noise, alpha, strict=True):
        x_tilde = [xv + ai * (0.5 * std * nv) for xv, nv in zip(xi, ni, strict=True)]
        logit = sum(wv * xv for wv, xv in zip(w, x_tilde, strict=True))
        slope = sig(logit) * (1 - sig(logit))
        norm = math.sqrt(1e-4 + slope**2 * sum(wv * wv for wv in w))  # compare_gan's 1e-4
        terms.append((norm - 1) ** 2)
    got = dragan_penalty(
        D, real=t(x, (2, 1, 1, 2)), noise=t(noise, (2, 1, 1, 2)), alpha=t(alpha, (2, 1, 1, 1))
    )
    assert float(got.detach()) == pytest.approx(mean(terms), rel=1e-12)


def test_wgan_gp_objective_adds_weighted_exact_penalty():
    # WGAN-GP is the wgan objective with the gp penalty. PixelLogit has input gradient 1
    # everywhere: the penalty is (sqrt(1e-4 + 1) - 1)^2.
    obj = objective("wgan", ("gp", 10.0))
    loss, logs = obj.d_loss(**toy_setup("wgan"))
    penalty = (math.sqrt(1e-4 + 1.0) - 1) ** 2
    assert set(logs) == {"d_loss", "penalty"}
    assert float(logs["penalty"]) == pytest.approx(penalty, rel=1e-12)
    assert float(logs["d_loss"]) == pytest.approx(WASSERSTEIN_D, rel=1e-12, abs=1e-15)
    assert float(loss.detach()) == pytest.approx(WASSERSTEIN_D + 10.0 * penalty, rel=1e-12)
    # weight 0 adds nothing but still logs the penalty
    loss, logs = objective("wgan", ("gp", 0.0)).d_loss(**toy_setup("wgan"))
    assert float(loss.detach()) == pytest.approx(WASSERSTEIN_D, rel=1e-12, abs=1e-15)
    assert float(logs["penalty"]) == pytest.approx(penalty, rel=1e-12)


def test_dragan_objective_adds_weighted_exact_penalty():
    # DRAGAN is NS GAN with the dragan penalty (as compare_gan v1). A constant real batch has
    # std 0, so x~ = x whatever the noise: the penalty is deterministic.
    obj = objective("ns", ("dragan", 10.0))
    setup = toy_setup("ns")
    setup["real"] = t([0.5, 0.5, 0.5], (3, 1, 1, 1))
    d = -math.log(sig(0.5)) - mean(math.log(1 - sig(f)) for f in FAKE)
    penalty = (math.sqrt(1e-4 + (sig(0.5) * (1 - sig(0.5))) ** 2) - 1) ** 2
    loss, logs = obj.d_loss(**setup)
    assert float(logs["penalty"]) == pytest.approx(penalty, rel=1e-12)
    assert float(logs["d_loss"]) == pytest.approx(d, rel=1e-12)
    assert float(loss.detach()) == pytest.approx(d + 10.0 * penalty, rel=1e-12)


def test_wgan_gp_penalty_has_a_finite_gradient_where_the_critic_is_flat():
    D = Linear(t([[[0.0, 0.0], [0.0, 0.0]]]))  # input gradient 0: the norm's kink
    real = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    penalty = wgan_gp_penalty(D, real=real, fake=real.flip(0), alpha=t([0.5] * 3, (3, 1, 1, 1)))
    penalty.backward()
    assert float(penalty.detach()) == pytest.approx((math.sqrt(1e-4) - 1) ** 2, rel=1e-12)
    assert torch.isfinite(D.w.grad).all()


def test_dragan_penalty_has_a_finite_gradient_where_the_critic_is_flat():
    """sqrt(1e-4 + sum g^2) (compare_gan v1 DRAGAN.py): finite where sigmoid(D) is flat or
    saturated (g = 0), where sqrt(sum g^2) had an infinite derivative and made D NaN."""
    D = Linear(t([[[0.0, 0.0], [0.0, 0.0]]]))
    real = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    penalty = dragan_penalty(
        D, real=real, noise=torch.rand_like(real), alpha=t([0.5] * 3, (3, 1, 1, 1))
    )
    penalty.backward()
    assert float(penalty.detach()) == pytest.approx((math.sqrt(1e-4) - 1) ** 2, rel=1e-12)
    assert torch.isfinite(D.w.grad).all()


def test_penalty_registry_and_params():
    assert PENALTIES.names() == ["dragan", "gp", "none"]
    assert PENALTIES.get("none") is None
    assert PenaltyParams().weight == 10.0  # Lucic et al.'s lambda
    with pytest.raises(ConfigError) as err:
        validate(PenaltyParams, {"weight": -1.0}, "penalty")
    assert (err.value.key, err.value.value) == ("penalty.weight", -1.0)


# ---------------------------------------------------------------------------------------------
# How an objective calls its networks: labels, one or two D forwards, the penalty's D


class Recorder(nn.Module):
    """D(x, y) = sum(w * x) * (1 + y): records its calls; the logit depends on the label."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(t([[[0.3, -0.4], [0.5, 0.1]]]))
        self.calls: list[tuple[Tensor, Tensor | None]] = []

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        self.calls.append((x.detach(), y))
        out = (self.w * x).flatten(1).sum(1)
        return out if y is None else out * (1 + y.to(out.dtype))


class LabelG(nn.Module):
    """G(z, y) = z reshaped to images, plus y: the labels show in the samples."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Tensor | None] = []

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        self.calls.append(y)
        x = z.reshape(-1, 1, 2, 2)
        return x if y is None else x + y.to(x.dtype).reshape(-1, 1, 1, 1)


def labelled_setup():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(3, 1, 2, 2, generator=g, dtype=torch.float64)
    z = torch.rand(3, 4, generator=g, dtype=torch.float64)
    return dict(G=LabelG(), D=Recorder(), real=real, z=z, y_real=torch.tensor([0, 1, 2]),
                y_fake=torch.tensor([2, 2, 0]))  # fmt: skip


@pytest.mark.parametrize("name", LOGIT_NAMES)
def test_labels_are_routed_and_joint_d_equals_two_forwards(name):
    separate, joint = labelled_setup(), labelled_setup()
    obj = objective(name)
    loss_s, _ = obj.d_loss(**separate, joint=False)
    loss_j, _ = obj.d_loss(**joint, joint=True)
    assert float(loss_j.detach()) == pytest.approx(float(loss_s.detach()), rel=1e-14, abs=1e-15)
    fake = separate["z"].reshape(-1, 1, 2, 2) + t([2, 2, 0], (3, 1, 1, 1))
    assert separate["G"].calls[0].tolist() == [2, 2, 0]  # G gets the fake labels
    (xr, yr), (xf, yf) = separate["D"].calls  # two forwards: real with y_real, fake with y_fake
    assert torch.equal(xr, separate["real"]) and yr.tolist() == [0, 1, 2]
    assert torch.equal(xf, fake) and yf.tolist() == [2, 2, 0]
    ((x, y),) = joint["D"].calls  # one forward on the concatenation, labels alike
    assert torch.equal(x, torch.cat([joint["real"], fake])) and y.tolist() == [0, 1, 2, 2, 2, 0]
    setup = labelled_setup()
    obj.g_loss(G=setup["G"], D=setup["D"], real=setup["real"], z=setup["z"], y_fake=setup["y_fake"])
    assert setup["G"].calls[0].tolist() == [2, 2, 0]
    ((x, y),) = setup["D"].calls
    assert torch.equal(x, fake) and y.tolist() == [2, 2, 0]


def test_the_penalty_differentiates_d_with_the_real_labels_bound():
    """D's input gradient is w (1 + y): the penalty sees y_real, per sample."""
    setup = labelled_setup()
    _, logs = objective("wgan", ("gp", 1.0)).d_loss(**setup)
    w2 = 0.09 + 0.16 + 0.25 + 0.01
    norms = [math.sqrt(1e-4 + w2 * (1 + y) ** 2) for y in (0, 1, 2)]
    assert float(logs["penalty"]) == pytest.approx(mean((n - 1) ** 2 for n in norms), rel=1e-12)


def test_labelled_binds_labels():
    D = Recorder()
    x, y = torch.rand(2, 1, 2, 2, dtype=torch.float64), torch.tensor([1, 0])
    torch.testing.assert_close(Labelled(D, y)(x), D(x, y), rtol=0, atol=0)
    assert D.calls[0][1] is y
    assert list(Labelled(D, None).parameters()) == list(D.parameters())
    torch.testing.assert_close(Labelled(D, None)(x), D(x), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Objective behaviours


def test_wgan_clips_every_d_parameter_after_a_d_step():
    D = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with torch.no_grad():
        for p in D.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).reshape(p.shape))
    before = {k: v.clone() for k, v in D.state_dict().items()}
    objective("wgan", clip=0.05).after_d_step(D)
    params = dict(D.named_parameters())
    for key, value in D.state_dict().items():
        expected = before[key].clamp(-0.05, 0.05) if key in params else before[key]
        torch.testing.assert_close(value, expected, rtol=0, atol=0)  # buffers are not clipped
    assert float(params["1.weight"].detach().max()) == pytest.approx(0.05)
    # clip null (WGAN-GP): nothing is clipped
    unclipped = nn.Linear(3, 4)
    state = {k: v.clone() for k, v in unclipped.state_dict().items()}
    objective("wgan").after_d_step(unclipped)
    for k, v in unclipped.state_dict().items():
        assert torch.equal(v, state[k])


def test_began_k_starts_at_zero_follows_the_update_and_round_trips():
    obj = objective("began", lambda_k=1e-3, gamma=0.75)
    assert float(obj.k) == 0.0
    setup = toy_setup("began")
    _, logs = obj.d_loss(**setup)
    assert float(logs["k"]) == 0.0
    assert float(logs["convergence"]) == pytest.approx(
        BEGAN_L_REAL + abs(0.75 * BEGAN_L_REAL - BEGAN_L_FAKE), rel=1e-12
    )
    obj.after_d_step(setup["D"])
    k1 = 1e-3 * (0.75 * BEGAN_L_REAL - BEGAN_L_FAKE)
    assert float(obj.k) == pytest.approx(k1, rel=1e-12)
    loss, _ = obj.d_loss(**setup)  # the next D loss uses k_1
    assert float(loss.detach()) == pytest.approx(BEGAN_L_REAL - k1 * BEGAN_L_FAKE, rel=1e-12)

    state = obj.state_dict()
    assert set(state) == {"k"} and state["k"].device.type == "cpu"
    restored = objective("began")
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.k, obj.k, rtol=0, atol=0)
    assert objective("ns").state_dict() == {}  # a stateless objective


def test_began_params_are_its_own():
    assert BeganParams() == BeganParams(gamma=0.75, lambda_k=1e-3)  # Lucic et al.'s values
    for bad, key in [
        ({"gamma": 0}, "gamma"),
        ({"gamma": 1.5}, "gamma"),
        ({"lambda_k": 0}, "lambda_k"),
    ]:
        with pytest.raises(ConfigError) as err:
            validate(BeganParams, bad, "objective")
        assert err.value.key == f"objective.{key}"
    assert WassersteinParams().clip is None
    with pytest.raises(ConfigError) as err:
        validate(WassersteinParams, {"clip": 0}, "objective")
    assert (err.value.key, err.value.value) == ("objective.clip", 0)
    for name in ("mm", "ns", "lsgan", "hinge", "vae"):
        assert OBJECTIVES.get(name).Params is NoParams


def infogan(name: str, shape=(1, 8, 8), z_dim: int = 4):
    """The InfoGAN-style networks for objective ``name``, as the plan resolves them."""
    cls = OBJECTIVES.get(name)
    params = InfoGANParams(
        width=0.125,
        z_dim=z_dim,
        discriminator=cls.discriminator,
        g_activation=cls.generator_activation,
    )
    return ARCHITECTURES.get("infogan").build(params, shape, 0)


def test_vae_trains_encoder_and_decoder_with_one_optimizer():
    cls = OBJECTIVES.get("vae")
    obj = objective("vae")
    assert obj.trains_discriminator is False
    assert cls.latents == ("normal",) and cls.discriminator == "encoder"
    G, D = infogan("vae")
    ids = [id(p) for p in obj.generator_parameters(G, D)]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in G.parameters()} | {id(p) for p in D.parameters()}
    real = torch.rand(4, 1, 8, 8)
    loss, logs = obj.g_loss(G=G, D=D, real=real, z=torch.randn(4, 4))
    loss.backward()  # the ELBO reaches the encoder through the reparameterisation
    assert all(p.grad is not None for p in D.parameters())
    assert set(logs) == {"g_loss"}


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_gan_generators_train_only_g(name):
    cls = OBJECTIVES.get(name)
    if not cls.trains_discriminator:
        return  # the VAE case is test_vae_trains_encoder_and_decoder_with_one_optimizer
    G, D = infogan(name)
    ids = [id(p) for p in objective(name).generator_parameters(G, D)]
    assert ids == [id(p) for p in G.parameters()]


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_objectives_declare_what_the_plan_checks(name):
    cls = OBJECTIVES.get(name)
    assert cls.discriminator in {"critic", "autoencoder", "encoder"}
    assert set(cls.latents) <= set(LATENTS.names()) and cls.latents
    assert cls.generator_activation in {"lrelu", "relu"}
    logit = issubclass(cls, LogitObjective)
    # a logit D: labels (projection D) and gradient penalties; the others neither
    assert cls.conditional == logit and cls.takes_penalty == logit
    assert (cls.discriminator == "critic") == logit
