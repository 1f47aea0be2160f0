"""The ResNet's configuration and channel plans (BigGAN-PyTorch's per-resolution ``arch``
dicts): the switches of the SAGAN and BigGAN ablations plus the data-derived resolution, image
channels and number of classes, validated with a :class:`ConfigError` per field."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

from ganbench.errors import ConfigError
from ganbench.models.attention import INITS

#: resolution -> (G channel multipliers at 4, 8, ..., resolution; D block outputs; D downsamples)
PLANS: dict[int, tuple[tuple[int, ...], tuple[int, ...], tuple[bool, ...]]] = {
    32: ((4, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False)),
    64: ((16, 8, 4, 2, 1), (1, 2, 4, 8, 16), (True, True, True, True, False)),
    128: ((16, 16, 8, 4, 2, 1), (1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
}
ATTENTION_BLOCKS = ("attention", "residual")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class ResNetConfig:
    """The switches of the SAGAN and BigGAN ablations; invalid values raise :class:`ConfigError`.

    ``ch`` is the channel base (BigGAN's ``ch``: 64, or 96 = 64 x 1.5); it may be a float, and
    every channel count is ``round(ch * multiplier)``. ``g_attention`` / ``d_attention`` list
    feature-map resolutions: an attention block (or, with ``attention_block="residual"``, SAGAN's
    control: a residual block of the same size) goes after the first block producing each one.
    ``skip_z`` (BigGAN's hierarchical latent) needs ``shared_embedding``, and ``z_dim`` must split
    into ``num_g_blocks + 1`` equal chunks.
    """

    resolution: int = 32
    ch: float = 64
    num_classes: int = 0
    image_channels: int = 3
    z_dim: int = 128
    g_spectral_norm: bool = True
    d_spectral_norm: bool = True
    g_attention: tuple[int, ...] = field(default_factory=tuple)
    d_attention: tuple[int, ...] = field(default_factory=tuple)
    attention_block: str = "attention"
    shared_embedding: bool = False
    shared_dim: int = 128
    skip_z: bool = False
    init: str = "ortho"

    def __post_init__(self) -> None:
        def bad(key: str, allowed: str) -> ConfigError:
            return ConfigError(f"resnet.{key}", getattr(self, key), allowed)

        if self.resolution not in PLANS or not _is_int(self.resolution):
            raise bad("resolution", "one of " + ", ".join(map(str, PLANS)))
        if isinstance(self.ch, bool) or not isinstance(self.ch, numbers.Real) or self.ch <= 0:
            raise bad("ch", "a positive number (channel base, e.g. 64 or 96)")
        if min(self.g_channels + self.d_channels) < 1:
            raise bad("ch", "large enough that every channel count is at least 1")
        for key in ("num_classes",):
            if not _is_int(getattr(self, key)) or getattr(self, key) < 0:
                raise bad(key, "an integer >= 0 (0: unconditional)")
        for key in ("image_channels", "z_dim", "shared_dim"):
            if not _is_int(getattr(self, key)) or getattr(self, key) < 1:
                raise bad(key, "an integer >= 1")
        for key in ("g_spectral_norm", "d_spectral_norm", "shared_embedding", "skip_z"):
            if not isinstance(getattr(self, key), bool):
                raise bad(key, "true or false")
        if self.attention_block not in ATTENTION_BLOCKS:
            raise bad("attention_block", "one of " + ", ".join(ATTENTION_BLOCKS))
        if self.init not in INITS:
            raise bad("init", "one of " + ", ".join(INITS))
        for key, resolutions, channels in [
            ("g_attention", self.g_resolutions, self.g_channels),
            ("d_attention", self.d_resolutions, self.d_channels),
        ]:
            value = getattr(self, key)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise bad(key, "a list of feature-map resolutions")
            value = tuple(value)
            object.__setattr__(self, key, value)
            allowed = sorted(set(resolutions[1:] if key == "g_attention" else resolutions))
            if any(r not in allowed for r in value) or len(set(value)) != len(value):
                raise bad(key, "distinct resolutions among " + ", ".join(map(str, allowed)))
            if self.attention_block == "attention":
                for r in value:
                    c = channels[resolutions.index(r)]
                    if c % 8:
                        raise bad(
                            key, f"resolutions whose channel count is a multiple of 8 ({r}: {c})"
                        )
        if self.shared_embedding and self.num_classes == 0:
            raise bad("shared_embedding", "false when num_classes is 0 (unconditional)")
        if self.skip_z and not self.shared_embedding:
            raise bad("skip_z", "false unless shared_embedding is true (BigGAN's hierarchical z)")
        if self.skip_z and self.z_dim % (self.num_g_blocks + 1):
            raise bad(
                "z_dim",
                f"a multiple of {self.num_g_blocks + 1} with skip_z at resolution "
                f"{self.resolution} ({self.num_g_blocks} blocks + the input layer)",
            )

    # Derived plan -------------------------------------------------------------------------
    def _chs(self, mults: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(round(self.ch * m) for m in mults)

    @property
    def g_channels(self) -> tuple[int, ...]:
        """G channels at resolutions 4, 8, ..., ``resolution``."""
        return self._chs(PLANS[self.resolution][0])

    @property
    def g_resolutions(self) -> tuple[int, ...]:
        return tuple(4 * 2**i for i in range(len(PLANS[self.resolution][0])))

    @property
    def num_g_blocks(self) -> int:
        return len(PLANS[self.resolution][0]) - 1

    @property
    def d_channels(self) -> tuple[int, ...]:
        """D block output channels."""
        return self._chs(PLANS[self.resolution][1])

    @property
    def d_resolutions(self) -> tuple[int, ...]:
        """D block output resolutions."""
        out, r = [], self.resolution
        for down in PLANS[self.resolution][2]:
            r = r // 2 if down else r
            out.append(r)
        return tuple(out)
