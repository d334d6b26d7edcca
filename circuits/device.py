"""The torch device a run asks for, checked before anything is loaded onto it."""

from __future__ import annotations

import torch

from circuits.errors import DeviceError


def usable_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``; a ``DeviceError`` that says why and what to pass instead when this
    machine's torch cannot run on it (a CPU-only build, no visible GPU, an index past the visible GPUs, a
    backend such as xpu that this build lacks)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"{device!r} is not a torch device ({exc}). Fix: pass cpu, cuda, cuda:N, mps or another "
                          "torch device type.") from None
    build = f"torch {torch.__version__}"
    if dev.type == "cuda":
        if torch.version.cuda is None:
            raise DeviceError(f"device {str(dev)!r} asked for, but {build} is built without CUDA. Fix: pass cpu, "
                              "or install a CUDA build of torch (https://pytorch.org/get-started) on a machine "
                              "with an NVIDIA GPU.")
        count = torch.cuda.device_count()
        if count == 0:
            raise DeviceError(f"device {str(dev)!r} asked for, but {build} (CUDA {torch.version.cuda}) sees no GPU. "
                              "Fix: check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES, or pass cpu.")
        if dev.index is not None and dev.index >= count:
            raise DeviceError(f"device {str(dev)!r} asked for, but only {count} GPU(s) are visible "
                              f"(cuda:0 … cuda:{count - 1}). Fix: pass one of those, or cuda.")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device 'mps' asked for, but {build} cannot use Apple's Metal backend here (it needs "
                          "macOS 12.3+ on Apple silicon and an MPS build). Fix: pass cpu.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        backend = getattr(torch, dev.type, None)  # torch.xpu, torch.hpu, a registered PrivateUse1 backend …
        if backend is None or not backend.is_available():
            raise DeviceError(f"device {str(dev)!r} asked for, but {build} has no usable {dev.type!r} backend here. "
                              "Fix: pass cpu, or install the torch build (and driver) for that accelerator.")
    return dev
