"""Gradient accumulation (``training.accumulate``, BigGAN-PyTorch's num_D_accumulations /
num_G_accumulations): k micro-batches of b/k give the update of one batch of b when no layer
couples the samples of a batch (no BatchNorm), k = 1 is the plain step, and BEGAN's k update
sees the step's mean errors."""

from __future__ import annotations

import pytest
import torch
from ablation_helpers import lucic_run, tiny_data
from torch import nn

from ganbench.losses import OBJECTIVES
from ganbench.training import loop
from ganbench.training.loop import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = torch.device("cpu")


class ToyG(nn.Module):
    """z (N, 8) -> images (N, 1, 28, 28) in [0, 1]; no BatchNorm."""

    value_range = (0.0, 1.0)

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.LeakyReLU(0.2), nn.Linear(32, 784))

    def forward(self, z, y=None):
        return torch.sigmoid(self.net(z)).view(-1, 1, 28, 28)


class ToyD(nn.Module):
    """images -> logits (N,); no BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)
        )

    def forward(self, x, y=None):
        return self.net(x).squeeze(1)


def sgd(params, lr, betas, device, eps=1e-8):
    """Plain SGD in place of Adam: the update is lr x the accumulated gradient. Adam divides by
    sqrt(v), which turns float32 noise in a near-zero gradient into a full step of either sign,
    so parameters after Adam steps cannot be compared to 1e-6; the gradients (compared too)
    are what accumulation produces."""
    return torch.optim.SGD(params, lr=lr)


def toy_trainer(monkeypatch, tmp_path, variant: str, accumulate: int, name: str) -> Trainer:
    monkeypatch.setattr(loop, "build_networks", lambda spec: (ToyG(), ToyD()))
    monkeypatch.setattr(loop, "make_adam", sgd)
    spec = lucic_run(variant, training={"batch_size": 8, "accumulate": accumulate})
    images = tiny_data(n=64, size=28)[0]
    return Trainer(spec, images, None, tmp_path / name, device=CPU)


def grads(module: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters()]


def trajectory(trainer: Trainer, steps: int = 4) -> list[dict]:
    """Per step: the logs, the gradients left by the step and the parameters after it (the
    trainer owns the global RNG while it steps: each trainer is built, then run, in turn)."""
    out = []
    for _ in range(steps):  # n_disc = 2: G steps at steps 1 and 3
        logs = trainer.train_step()
        state = {"logs": logs}
        for net in ("G", "D"):
            params = list(getattr(trainer, net).parameters())
            state[net] = [p.detach().clone() for p in params]
            state[f"grad_{net}"] = [None if p.grad is None else p.grad.clone() for p in params]
        out.append(state)
    return out


@pytest.mark.parametrize("variant", ["ns", "mm", "lsgan", "wgan", "hinge"])
@pytest.mark.parametrize("k", [2, 4, 8])
def test_k_micro_batches_give_the_whole_batchs_update(variant, k, monkeypatch, tmp_path):
    whole = trajectory(toy_trainer(monkeypatch, tmp_path, variant, 1, "whole"))
    split = trajectory(toy_trainer(monkeypatch, tmp_path, variant, k, "split"))
    for a, b in zip(whole, split, strict=True):
        for key in ("G", "D", "grad_G", "grad_D"):
            for x, y in zip(a[key], b[key], strict=True):
                if x is None:
                    assert y is None
                else:
                    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)
        assert a["logs"].keys() == b["logs"].keys()
        for name in a["logs"]:
            torch.testing.assert_close(b["logs"][name], a["logs"][name], rtol=1e-5, atol=1e-6)
    assert not torch.equal(whole[-1]["G"][0], whole[0]["G"][0])  # G was trained


def test_a_whole_batch_with_batchnorm_is_not_its_micro_batches(tmp_path):
    """With BatchNorm (the InfoGAN networks) each micro-batch is normalised on its own
    statistics, as in BigGAN-PyTorch: the update differs from the whole batch's."""
    images = tiny_data(n=64, size=28)[0]
    runs = []
    for k in (1, 4):
        spec = lucic_run("ns", training={"batch_size": 8, "accumulate": k})
        runs.append(trajectory(Trainer(spec, images, None, tmp_path / str(k), device=CPU), 1))
    diff = max(
        (a - b).abs().max() for a, b in zip(runs[0][0]["grad_D"], runs[1][0]["grad_D"], strict=True)
    )
    assert diff > 1e-4


def test_micro_batches_are_the_batch_in_order(monkeypatch, tmp_path):
    trainer = toy_trainer(monkeypatch, tmp_path, "ns", 4, "t")
    x, z = torch.arange(8.0).view(8, 1), torch.arange(16.0).view(8, 2)
    parts = list(trainer._micro_batches(x, None, z))
    assert len(parts) == 4
    assert [p[0].flatten().tolist() for p in parts] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert all(p[1] is None for p in parts)
    assert torch.equal(torch.cat([p[2] for p in parts]), z)


def test_began_balances_k_on_the_mean_error_of_the_micro_batches():
    """k_{t+1} = k_t + lambda_k (gamma L(x) - L(G(z))) with L the step's mean reconstruction
    error: two half batches give the k of the whole batch."""
    torch.manual_seed(0)
    spec = lucic_run("began")
    began = OBJECTIVES.get("began")(spec.recipe.objective)
    G = ToyG()

    class AutoEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 784))

        def forward(self, x, y=None):
            return torch.sigmoid(self.net(x)).view_as(x)

    D = AutoEncoder()
    real, z = torch.rand(8, 1, 28, 28), torch.rand(8, 8) * 2 - 1
    began.d_loss(G=G, D=D, real=real, z=z)
    began.after_d_step(D)
    whole_k = began.k.clone()
    began.k = torch.zeros(())
    for half in (slice(0, 4), slice(4, 8)):
        began.d_loss(G=G, D=D, real=real[half], z=z[half])
    began.after_d_step(D)
    torch.testing.assert_close(began.k, whole_k, rtol=1e-6, atol=1e-9)
    assert whole_k != 0
