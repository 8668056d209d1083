"""Which device and floating-point type the learned backends run on.

Never hard-coded: "auto" takes CUDA, then Apple's MPS, then the CPU; an explicit choice that this
machine cannot honour is a clear error rather than a silent CPU run. On CUDA the heavy encoders run
in bfloat16 where the GPU supports it (same range as float32, no overflow) and float16 otherwise;
MPS and CPU stay in float32 (half precision there is slow or numerically fragile).
Importable without torch: then only "cpu" exists.
"""

from __future__ import annotations

import importlib.util

from . import config
from .errors import EngineError

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float32", "float16", "bfloat16")


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def available_devices() -> list[str]:
    """Devices usable here, best first."""
    if not torch_installed():
        return ["cpu"]
    import torch

    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    out.append("cpu")
    return out


def choose_device(requested: str | None = None) -> str:
    """requested: None/"auto" (or $VTA_DEVICE), "cuda", "cuda:1", "mps", "cpu"."""
    requested = (requested or config.current().device or "auto").strip().lower()
    have = available_devices()
    if requested == "auto":
        return have[0]
    base = requested.split(":")[0]
    if base not in DEVICES:
        raise EngineError(f"unknown device '{requested}' (known: {', '.join(DEVICES)})")
    if base not in have:
        why = "torch is not installed" if not torch_installed() else f"this machine has {', '.join(have)}"
        raise EngineError(f"device '{requested}' is not available ({why})")
    return requested


def choose_dtype(device: str, requested: str | None = None) -> str:
    """Name of the torch dtype for the heavy encoders on `device` ($VTA_DTYPE overrides)."""
    requested = (requested or config.current().dtype or "auto").strip().lower()
    if requested not in DTYPES:
        raise EngineError(f"unknown dtype '{requested}' (known: {', '.join(DTYPES)})")
    if requested != "auto":
        if requested != "float32" and not device.startswith("cuda"):
            raise EngineError(f"dtype {requested} is only used on CUDA; {device} runs float32")
        return requested
    if not device.startswith("cuda"):
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def onnx_providers(device: str) -> list[str]:
    """onnxruntime providers for `device`: CUDA when the GPU build is installed, CPU always last."""
    import onnxruntime

    have = onnxruntime.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if device.startswith("cuda") else []
    return [p for p in wanted if p in have] + ["CPUExecutionProvider"]


def describe(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return device


def peak_memory_mb(device: str) -> float | None:
    """Peak allocated GPU memory since the last reset, for benchmarks (None off CUDA)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20
