"""How a benchmark names the device it measured, load included."""

from __future__ import annotations

import os
import platform

import torch


def describe_device(device: torch.device) -> str:
    """The GPU's name, or the CPU with its thread count and load average
    (a shared CPU's load skews the figures, so it is printed beside them).
    Exits with a clear message when CUDA is asked for but absent."""
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda was asked for, but torch sees no CUDA device on this machine.")
        return torch.cuda.get_device_name(device)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, load {load}"
