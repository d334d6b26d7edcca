"""A device this machine cannot use is refused up front, with the reason and what to pass instead."""

from __future__ import annotations

import argparse

import pytest
import torch

from axiomtests.options import parse_device
from circuits.device import usable_device
from circuits.errors import DeviceError
from circuits.model import HookedCrossEncoder


@pytest.fixture
def gpus(monkeypatch):
    """Pretend this torch is a CUDA build that sees ``n`` GPUs (or a CPU-only build when ``n`` is None)."""
    def set_gpus(n: int | None) -> None:
        monkeypatch.setattr(torch.version, "cuda", None if n is None else "12.4")
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n or 0)
    return set_gpus


@pytest.mark.parametrize("n, device, message", [
    (None, "cuda", "built without CUDA. Fix: pass cpu"),
    (0, "cuda:0", r"sees no GPU. Fix: check the driver \(nvidia-smi\) and CUDA_VISIBLE_DEVICES"),
    (2, "cuda:2", r"only 2 GPU\(s\) are visible \(cuda:0 … cuda:1\)"),
])
def test_unusable_cuda_is_refused(gpus, n, device, message):
    gpus(n)
    with pytest.raises(DeviceError, match=message):
        usable_device(device)


def test_visible_gpus_and_cpu_pass(gpus):
    gpus(2)
    assert usable_device("cuda:1") == torch.device("cuda", 1)
    assert usable_device(torch.device("cuda")) == torch.device("cuda")
    assert usable_device("cpu") == torch.device("cpu")


def test_mps_without_metal_and_bad_names_are_refused(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="Metal backend"):
        usable_device("mps")
    with pytest.raises(DeviceError, match="'cuda:x' is not a torch device.*Fix: pass cpu, cuda, cuda:N, mps"):
        usable_device("cuda:x")
    monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no usable 'xpu' backend"):
        usable_device("xpu")


def test_loading_checks_the_device_before_the_checkpoint(gpus, tmp_path):
    gpus(None)
    with pytest.raises(DeviceError, match="built without CUDA"):  # not the CheckpointError of the missing folder
        HookedCrossEncoder.from_pretrained(tmp_path / "not-built-yet", device="cuda")


def test_moving_a_loaded_model_checks_the_device(gpus, tiny_cross_encoder):
    gpus(0)
    with pytest.raises(DeviceError, match="sees no GPU"):
        tiny_cross_encoder.to("cuda")
    assert tiny_cross_encoder.device.type == "cpu"


def test_command_line_refuses_at_parse_time(gpus):
    gpus(None)
    assert parse_device("cpu") == "cpu"
    with pytest.raises(argparse.ArgumentTypeError, match="built without CUDA"):
        parse_device("cuda")
    with pytest.raises(argparse.ArgumentTypeError, match="'tpu' is not a torch device"):
        parse_device("tpu")
