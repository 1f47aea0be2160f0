"""Initialisation and normalisation as in compare_gan v1 (TensorFlow defaults translated)."""

from __future__ import annotations

from torch import nn

# TF batch_norm(decay=0.999, epsilon=0.001): PyTorch's momentum is 1 - decay.
BN_MOMENTUM = 0.001
BN_EPS = 0.001


def batchnorm(num_features: int, dims: int) -> nn.Module:
    cls = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return cls(num_features, eps=BN_EPS, momentum=BN_MOMENTUM)


def init_lucic(module: nn.Module) -> None:
    """Weights N(0, 0.02) (conv: truncated at 2 std, as tf.truncated_normal), biases 0, BN (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
        elif isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            continue
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
