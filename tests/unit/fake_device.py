"""A stand-in accelerator for CPU-only machines: device ``fakegpu``, computed on the CPU, strict like CUDA.

Its tensors wrap a CPU tensor and run every op on it, but they refuse what CUDA refuses: an op that mixes them
with a CPU tensor of one or more dimensions (0-dim CPU scalars pass, as on CUDA), indexing a CPU tensor with
their indices, and ``.numpy()``. Code that keeps every tensor on ``model.device`` runs here and matches the
CPU to rounding; code that would fail on a GPU for mixing devices fails here the same way. It says nothing
about CUDA kernels, memory or speed: ``test_cuda_matches_cpu`` and ``benchmarks/gpu.sh`` need a real GPU.

Importing this module registers the backend (PyTorch's experimental Python PrivateUse1 hook); use
``fake_device_or_skip()`` where that hook may be missing. PyTorch's C++ path from Python data straight to such
a backend (``torch.tensor(data, device=...)``, indexing with a Python list) trips an internal assert; as a
plugin (``pytest -p fake_device --axiom-device fakegpu``, with ``tests/unit`` on ``PYTHONPATH``) the module
also routes that data through the CPU, so that the whole claim suite can run on the stand-in.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves, tree_map

NAME = "fakegpu"
aten = torch.ops.aten
_CROSS_DEVICE = {aten._to_copy.default, aten.copy_.default, aten._copy_from.default,
                 aten._copy_from_and_resize.default}
_INDEXING = {aten.index.Tensor, aten.index_put_.default, aten.index_put.default}


class FakeGpuTensor(torch.Tensor):
    """A tensor on ``fakegpu`` holding its values in ``raw`` (a CPU tensor of the same shape and strides)."""

    __torch_function__ = torch._C._disabled_torch_function_impl
    raw: torch.Tensor

    @staticmethod
    def __new__(cls, raw: torch.Tensor) -> "FakeGpuTensor":
        with torch.inference_mode(False):  # a view's wrapper must accept its base's version counter
            return torch.Tensor._make_wrapper_subclass(
                cls, raw.size(), strides=raw.stride(), storage_offset=raw.storage_offset(), dtype=raw.dtype,
                device=torch.device(NAME, 0), requires_grad=raw.requires_grad)

    def __init__(self, raw: torch.Tensor) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"FakeGpuTensor({self.raw!r})"

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return _run(func, *args, **(kwargs or {}))


def _on_cpu(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and not isinstance(x, FakeGpuTensor) and x.device.type == "cpu"


def _check_devices(func: Any, args: tuple, kwargs: dict) -> None:
    """Raise CUDA's errors for operands that live on the CPU."""
    if func in _CROSS_DEVICE:
        return
    if func in _INDEXING:
        if _on_cpu(args[0]) and any(isinstance(i, FakeGpuTensor) for i in args[1] if i is not None):
            raise RuntimeError("indices should be either on cpu or on the same device as the indexed tensor (cpu)")
        args = (args[0], *args[2:])  # CPU indices into a device tensor are allowed
    if any(_on_cpu(t) and t.dim() > 0 for t in tree_leaves((args, kwargs))):
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{NAME}:0 and cpu! ({func})")


def _unwrap(x: Any) -> Any:
    if isinstance(x, FakeGpuTensor):
        return x.raw
    if isinstance(x, torch.device) and x.type == NAME:
        return torch.device("cpu")
    return x


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``func`` on the raw CPU tensors and wrap what it returns (in place and out=: the caller's tensors)."""
    if func is aten._has_compatible_shallow_copy_type.default:  # nn.Module.to asks before moving a parameter
        return isinstance(args[0], FakeGpuTensor) == isinstance(args[1], FakeGpuTensor)
    _check_devices(func, args, kwargs)
    schema = func._schema
    names = [a.name for a in schema.arguments]
    target = kwargs.get("device", args[names.index("device")] if "device" in names[:len(args)] else None)
    out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
    if target is not None and torch.device(target).type != NAME:
        return out  # .cpu(), .to("cpu"): a plain CPU tensor
    written = [(i, a.name) for i, a in enumerate(schema.arguments)
               if a.alias_info is not None and a.alias_info.is_write]
    if written:
        got = [args[i] if i < len(args) else kwargs[n] for i, n in written]
        return got[0] if len(schema.returns) == 1 else tuple(got)
    return tree_map(lambda x: FakeGpuTensor(x) if isinstance(x, torch.Tensor) else x, out)


def _register() -> list[torch.library.Library]:
    from torch.utils.backend_registration import _setup_privateuseone_for_python_backend

    _setup_privateuseone_for_python_backend(NAME)
    fallback = torch.library.Library("_", "IMPL")  # factories with only a device argument (empty, …)
    fallback.fallback(lambda op, *args, **kwargs: _run(op, *args, **kwargs), "PrivateUse1")
    factories = torch.library.Library("aten", "IMPL")  # arange's composite kernel would write through out=
    for overload in ("default", "start", "start_step"):
        op = getattr(aten.arange, overload)
        factories.impl(op, lambda *a, _op=op, **k: _run(_op, *a, **k), "PrivateUse1")
    return [fallback, factories]


try:
    _LIBRARIES = _register()
    REASON = ""
except (ImportError, AttributeError, RuntimeError) as exc:  # another torch: the hook moved or is taken
    _LIBRARIES, REASON = [], f"the Python PrivateUse1 backend hook is unavailable in torch {torch.__version__}: {exc}"


def fake_device_or_skip() -> str:
    """The fake device's name, or skip the test when this torch cannot register it."""
    if REASON:
        pytest.skip(REASON)
    return NAME


class DataThroughCpu(TorchFunctionMode):
    """``torch.tensor``/``torch.as_tensor`` onto the stand-in, and Python-list indices, made on the CPU first."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if func in (torch.tensor, torch.as_tensor) and device is not None and torch.device(device).type == NAME:
            return func(*args, **{**kwargs, "device": "cpu"}).to(device)
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__) and isinstance(args[0], FakeGpuTensor):
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            index = tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)
            args = (args[0], index, *args[2:])
        return func(*args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    """As a plugin: route Python data through the CPU for the whole session."""
    if not REASON:
        config._fake_device_mode = DataThroughCpu()  # type: ignore[attr-defined]
        config._fake_device_mode.__enter__()  # type: ignore[attr-defined]
