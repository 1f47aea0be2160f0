"""benchmarks/gpu_smoke.py: says "no GPU" and exits 0 without one; its measuring code runs on the
CPU (``--allow-cpu``) so that it is not first exercised on a borrowed GPU."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.usefixtures("one_thread")

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_smoke.py"
_SPEC = importlib.util.spec_from_file_location("gpu_smoke", _PATH)
gs = sys.modules.setdefault("gpu_smoke", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(gs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_without_a_gpu_it_says_so_and_exits_0(capsys):
    assert gs.main([]) == 0
    assert capsys.readouterr().out.startswith("no GPU")


def test_runs_are_one_gpus_share_of_each_running_studys_baseline_and_biggan_row_8():
    runs = gs.smoke_runs("configs/sagan_biggan_imagenet128.yaml")
    assert [(r.study, r.variant) for r in runs] == [
        ("sagan", "baseline"), ("biggan", "baseline"), ("biggan", "ortho"),
    ]  # fmt: skip
    t = {r.variant: r.recipe.training for r in runs if r.study == "biggan"}
    assert (t["ortho"].batch_size, t["ortho"].accumulate, t["ortho"].nproc) == (256, 8, 1)
    assert t["baseline"].batch_size == 32  # 256 over 8 GPUs


def test_bare_losses_are_the_objectives_own():
    """The bare loop's hinge and NS losses equal ganbench's on the same logits."""
    from ganbench.losses import functional as L

    r, f = torch.randn(6), torch.randn(6)
    d_hinge, g_hinge = gs.BARE_LOSSES["hinge"]
    torch.testing.assert_close(d_hinge(r, f), L.hinge_d_loss(real_logits=r, fake_logits=f))
    torch.testing.assert_close(g_hinge(f), L.wasserstein_g_loss(fake_logits=f))  # -E l
    d_ns, g_ns = gs.BARE_LOSSES["ns"]  # NS's D loss is the minimax one
    torch.testing.assert_close(d_ns(r, f), L.minimax_d_loss(real_logits=r, fake_logits=f))
    torch.testing.assert_close(g_ns(f), L.non_saturating_g_loss(fake_logits=f))


@pytest.mark.slow
def test_the_measurements_run_on_the_cpu(capsys):
    assert gs.main(["configs/quick.yaml", "--allow-cpu", "--steps", "1", "--warmup", "1",
                    "--eval-images", "8"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    runs = re.findall(r"^configs/quick.yaml (\w+)/(\w+) .* steps/s, \d+ images/s", out, re.M)
    assert runs == [("lucic", "ns"), ("sagan", "baseline"), ("biggan", "baseline"),
                    ("biggan", "ortho"), ("losses", "ns")]  # fmt: skip
    assert out.count("bare loop") == 5 and out.count("evaluation:") == 5
