"""Each paper preset against the reference it names in its header, field by field.

The reference values live here, with the file and line they come from, so that a preset edit that
drifts from its reference fails a test; a deliberate deviation is listed in the preset's header
and here under ``deviations`` (field -> the reference's own value), so it is stated twice and
cannot happen silently. Sources: BigGAN-PyTorch @9845943 (scripts/*.sh, utils.py defaults), the
official SAGAN code brain-research/self-attention-gan @ad9612e, compare_gan v1 (Lucic et al.),
and the papers' own sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ganbench.config import load_params
from ganbench.plan import resolve_run

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class Reference:
    preset: str
    study: str
    variant: str
    source: str  # what the preset's header must name
    values: dict = field(default_factory=dict)  # "block.field" -> the reference's value
    deviations: dict = field(default_factory=dict)  # "block.field" -> the reference's value

    @property
    def id(self) -> str:
        return f"{self.preset}:{self.study}:{self.variant}"


SAGAN_CODE = {  # brain-research/self-attention-gan
    "objective.name": "hinge",  # model.py:53 loss_type hinge_loss
    "optimiser.lr_g": 1e-4,  # model.py:40
    "optimiser.lr_d": 4e-4,  # model.py:38
    "optimiser.beta1": 0.0,  # model.py:42
    "optimiser.n_disc": 1,  # train_imagenet.py:60 d_step 1
    "optimiser.eps": 1e-8,  # tf.train.AdamOptimizer's default (model.py:135-138 leaves it)
    "arch.init": "xavier",  # ops.py:47
    "arch.bn_eps": 1e-5,  # ops.py:298, 346
    "arch.sn_eps": 1e-12,  # ops.py:120 _l2normalize(v, eps=1e-12)
    "arch.z_dim": 128,  # model.py:49
    "arch.g_spectral_norm": True,
    "arch.d_spectral_norm": True,
    "training.conditional": True,
}
BIGGAN_CIFAR = {  # scripts/launch_cifar_ema.sh, utils.py defaults for what it leaves unset
    "objective.name": "hinge",
    "training.batch_size": 50,  # --batch_size 50
    "optimiser.n_disc": 4,  # --num_D_steps 4
    "optimiser.lr_g": 2e-4,  # --G_lr 2e-4
    "optimiser.lr_d": 2e-4,  # --D_lr 2e-4
    "optimiser.beta1": 0.0,  # utils.py --G_B1 / --D_B1 default 0.0
    "optimiser.beta2": 0.999,  # utils.py --G_B2 / --D_B2 default 0.999
    "optimiser.eps": 1e-8,  # utils.py --adam_eps default 1e-8
    "arch.g_attention": (),  # --G_attn 0
    "arch.d_attention": (),  # --D_attn 0
    "arch.init": "normal",  # --G_init N02 --D_init N02
    "arch.ch": 64,  # utils.py --G_ch / --D_ch default 64
    "arch.z_dim": 128,  # utils.py --dim_z default 128
    "arch.shared_embedding": False,  # --G_shared not set
    "arch.skip_z": False,  # --hier not set
    "arch.bn_eps": 1e-5,  # utils.py --BN_eps default 1e-5
    "arch.sn_eps": 1e-8,  # utils.py --SN_eps default 1e-8
    "training.ortho_beta": 0.0,  # --G_ortho 0.0
    "training.ema_decay": 0.9999,  # --ema, utils.py --ema_decay default 0.9999
    "training.ema_start": 4000,  # --ema_start 1000 G updates x 4 D steps
    # --num_epochs 500: 50k images / (50 x 4 per G update) = 250 G updates per epoch, x 500 x 4
    "training.steps": 500_000,
}
BIGGAN_PAPER = {  # Brock et al. 2019 appendix C; launch_BigGAN_bs256x8.sh for the rest
    "objective.name": "hinge",
    "optimiser.lr_g": 5e-5,
    "optimiser.lr_d": 2e-4,
    "optimiser.beta1": 0.0,
    "optimiser.beta2": 0.999,
    "optimiser.n_disc": 2,
    "optimiser.eps": 1e-6,  # --adam_eps 1e-6
    "arch.bn_eps": 1e-5,  # --BN_eps 1e-5
    "arch.sn_eps": 1e-6,  # --SN_eps 1e-6
    "arch.init": "ortho",  # --G_init ortho --D_init ortho
    "arch.g_attention": (64,),  # --G_attn 64 --D_attn 64
    "arch.d_attention": (64,),
    "arch.z_dim": 120,  # --dim_z 120
    "arch.shared_dim": 128,  # --shared_dim 128
    "training.ema_decay": 0.9999,
    "training.ema_start": 40_000,  # 20k G updates x 2 D steps (the paper; the script: 20000)
    "training.steps": 2_000_000,  # 1M G updates x 2 D steps
    "training.batch_size": 256,
}

REFERENCES = (
    Reference(
        "sagan_biggan_imagenet128.yaml", "sagan", "baseline",
        "brain-research/self-attention-gan",
        {**SAGAN_CODE, "arch.ch": 64, "training.batch_size": 256,  # 64 x 4 towers
         "training.steps": 1_000_000},
        {"optimiser.beta2": 0.999},  # the code leaves TF's 0.999; the paper (sec. 5) says 0.9
    ),
    Reference(
        "sagan_biggan_imagenet128.yaml", "biggan", "baseline", "launch_BigGAN_bs256x8.sh",
        BIGGAN_PAPER,
    ),
    Reference(
        "sagan_biggan_imagenet128.yaml", "biggan", "ortho", "launch_BigGAN_bs256x8.sh",
        {**BIGGAN_PAPER, "arch.ch": 96, "arch.shared_embedding": True, "arch.skip_z": True,
         "training.ortho_beta": 1e-4, "training.batch_size": 2048,
         "training.accumulate": 8},  # --num_G_accumulations 8 --num_D_accumulations 8
    ),
    Reference(
        "sagan_biggan_cifar10.yaml", "biggan", "baseline", "launch_cifar_ema.sh", BIGGAN_CIFAR
    ),
    Reference(
        "sagan_biggan_cifar10.yaml", "sagan", "baseline", "brain-research/self-attention-gan",
        SAGAN_CODE,
        {"optimiser.beta2": 0.999, "training.batch_size": 256},  # CIFAR-10 scale: 64
    ),
    Reference(
        "lucic_paper.yaml", "lucic", "ns", "compare_gan v1",
        {
            "arch.width": 1.0, "arch.z_dim": 64,  # their Table 4 networks
            "arch.bn_eps": 1e-3,  # compare_gan ops.batch_norm: epsilon=0.001
            "optimiser.eps": 1e-8,  # tf.train.AdamOptimizer's default
            "optimiser.beta2": 0.999,
            "training.batch_size": 64,
            "training.latent": "uniform",
            "evaluation.num_fake": 10_000,
            "evaluation.standing_stats_batches": 0,  # G's moving statistics (is_training=False)
        },
    ),
)  # fmt: skip


def value(recipe, key: str):
    block, name = key.split(".")
    part = getattr(recipe, block)
    named = hasattr(part, "fields") and name != "name"  # a registry entry's own fields
    return part.fields()[name] if named else getattr(part, name)


@pytest.mark.parametrize("ref", REFERENCES, ids=lambda r: r.id)
def test_preset_matches_its_reference_field_by_field(ref: Reference) -> None:
    params = load_params(str(CONFIGS / ref.preset))
    study = params.study(ref.study)
    r = resolve_run(params, ref.study, study.datasets[0], ref.variant, 0).recipe
    got = {k: value(r, k) for k in ref.values}
    assert got == ref.values
    for key, reference_value in ref.deviations.items():
        assert value(r, key) != reference_value, f"{key} is listed as a deviation but matches"


@pytest.mark.parametrize("preset", sorted({r.preset for r in REFERENCES} | {"losses_resnet.yaml"}))
def test_paper_preset_headers_name_their_references_and_deviations(preset: str) -> None:
    header = []
    for line in (CONFIGS / preset).read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    text = " ".join(header)
    assert "Deliberate deviations" in text, preset
    for ref in REFERENCES:
        if ref.preset == preset:
            assert ref.source in text, (preset, ref.source)
