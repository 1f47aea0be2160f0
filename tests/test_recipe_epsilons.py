"""The epsilons a reference implementation sets are recipe fields that reach every layer:
Adam's (``optimiser.eps``), BatchNorm's and spectral norm's (``arch.bn_eps``, ``arch.sn_eps``).
Defaults: compare_gan v1's BatchNorm epsilon 1e-3 for the InfoGAN networks, torch's elsewhere."""

from __future__ import annotations

import torch
from ablation_helpers import lucic_run, resnet_run, tiny_data
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.parametrizations import _SpectralNorm

from ganbench.plan import build_networks
from ganbench.training.loop import Trainer


def eps_of(kind, *modules):
    return {m.eps for net in modules for m in net.modules() if isinstance(m, kind)}


def test_defaults_are_the_references():
    G, D = build_networks(lucic_run("ns"))
    assert eps_of(_BatchNorm, G, D) == {1e-3}  # compare_gan ops.batch_norm(epsilon=0.001)
    G, D = build_networks(resnet_run("baseline"))
    assert eps_of(_BatchNorm, G, D) == {1e-5}
    assert eps_of(_SpectralNorm, G, D) == {1e-12}
    assert lucic_run("ns").recipe.optimiser.eps == 1e-8


def test_the_recipe_sets_every_layers_epsilon():
    G, D = build_networks(lucic_run("ns", arch={"bn_eps": 1e-5}))
    assert eps_of(_BatchNorm, G, D) == {1e-5}
    # BigGAN-PyTorch's launch scripts: --BN_eps 1e-5 --SN_eps 1e-6 --adam_eps 1e-6
    spec = resnet_run("baseline", arch={"bn_eps": 2e-5, "sn_eps": 1e-6}, optimiser={"eps": 1e-6})
    G, D = build_networks(spec)
    assert len(eps_of(_BatchNorm, G)) == 1 and eps_of(_BatchNorm, G, D) == {2e-5}
    assert eps_of(_SpectralNorm, G) == {1e-6} and eps_of(_SpectralNorm, D) == {1e-6}
    images, labels = tiny_data()
    trainer = Trainer(spec, images, labels, "unused", device=torch.device("cpu"))
    assert {g["eps"] for opt in (trainer.opt_g, trainer.opt_d) for g in opt.param_groups} == {1e-6}


def test_batchnorm_normalises_with_the_recipes_epsilon():
    """Train-mode BatchNorm at its initial affine (1, 0): (x - mean) / sqrt(var + eps) with the
    batch's biased variance; features of variance ~1e-4 (a saturating layer) tell 1e-3 from 1e-5."""
    x = torch.randn(8, 128, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1e-2
    for eps in (1e-3, 1e-5):
        bn = build_networks(lucic_run("ns", arch={"bn_eps": eps}))[0].fc[1].double().train()
        assert bn.num_features == x.shape[1]
        expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps)
        torch.testing.assert_close(bn(x), expected, rtol=1e-12, atol=1e-12)
