"""The CUDA-strict stand-in device must refuse what CUDA refuses, or the device tests built on it prove nothing."""

from __future__ import annotations

import pytest
import torch

from fake_device import fake_device_or_skip


@pytest.fixture(scope="module")
def device() -> str:
    return fake_device_or_skip()


def test_it_computes_like_the_cpu(device):
    torch.manual_seed(0)
    a, b = torch.randn(3, 4), torch.randn(4, 2)
    on = a.to(device) @ b.to(device)
    assert on.device.type == device
    torch.testing.assert_close(on.cpu(), a @ b)
    view = a.to(device).clone()
    view[:, 1:3] = 0.0  # writes through a strided view reach the tensor
    assert view.cpu()[:, 1:3].abs().sum() == 0 and view.cpu()[:, 0].equal(a[:, 0])
    assert torch.arange(4, device=device).cpu().tolist() == [0, 1, 2, 3]


def test_it_refuses_what_cuda_refuses(device):
    on = torch.ones(3, device=device)
    with pytest.raises(RuntimeError, match="same device"):
        on + torch.ones(3)
    with pytest.raises(RuntimeError, match="same device"):
        torch.where(on > 0, on, torch.zeros(3))
    with pytest.raises(RuntimeError, match="indices should be either on cpu"):
        torch.ones(3)[on.bool()]
    with pytest.raises((RuntimeError, TypeError)):
        on.numpy()
    assert (on + torch.tensor(2.0)).device.type == device  # 0-dim CPU scalars are allowed, as on CUDA
    assert on[torch.tensor([0, 2])].device.type == device  # so are CPU indices into a device tensor


def test_as_a_plugin_it_routes_python_data_through_the_cpu(device, tiny_checkpoint):
    from transformers import AutoModelForSequenceClassification

    from fake_device import DataThroughCpu

    with DataThroughCpu():
        on = torch.arange(6.0).reshape(2, 3).to(device)
        assert on[:, [0, 2]].cpu().tolist() == [[0.0, 2.0], [3.0, 5.0]]
        on[:, [1]] = -1.0
        assert on.cpu()[:, 1].tolist() == [-1.0, -1.0]
        assert torch.tensor([1, 2], device=device).device.type == device
        plain = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint("bert")).to(device)
        assert {p.device.type for p in plain.parameters()} == {device}
