"""Checkpoints: plain tensors + JSON, never pickled code.

A checkpoint ``ckpt-00001234.pt`` is a ``torch.save`` of a dict holding only tensors,
numbers, strings, lists and dicts (so ``torch.load(weights_only=True)`` reads it), with the
metadata (config, kimg, step, metrics) also kept as a JSON string inside. Beside it,
``ckpt-00001234.json`` repeats the metadata and records the SHA-256 of the ``.pt``; a
newest file truncated by a crash fails that check and ``latest_checkpoint`` falls back.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from training.engine.config import NetworkConfig, with_saved_defaults
from training.engine.dataset import file_sha256
from training.engine.networks import Generator, build_networks

CHECKPOINT_GLOB = "ckpt-*.pt"
# CPU features that decide which kernels torch runs, and so how a training step rounds: a recipe
# rebuilds the same model to the last digit on hosts that agree on these, and takes another path on
# others (docs/demo.md: the cityscape recipe on an AMD EPYC and on the 2026-12-05 host).
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def host_description(device: str | torch.device) -> dict[str, Any]:
    """Where a checkpoint was trained: torch's version and threads, the CPU's model and kernel
    flags, and the GPU's name and CUDA version when ``device`` is one."""
    cpu, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu:
                cpu = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux: no flags to record
        pass
    host: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu or platform.processor() or platform.machine(),
        "cpu_flags": [f for f in KERNEL_FLAGS if f in flags],
    }
    device = torch.device(device)
    if device.type == "cuda":
        host["gpu"] = torch.cuda.get_device_name(device)
        host["cuda"] = torch.version.cuda
    return host


class CheckpointError(Exception):
    """The checkpoint file is missing, truncated, damaged or not one of ours."""


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:08d}.pt"


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    # fsync the directory so the rename itself survives a power cut.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: Path | str, state: dict[str, Any]) -> None:
    """Write ``state`` atomically; ``state["meta"]`` (a JSON-able dict) goes inside and into the sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(state.get("meta", {}))
    payload = {k: v for k, v in state.items() if k != "meta"}
    payload["meta_json"] = json.dumps(meta)
    _atomic_write(path, lambda f: torch.save(payload, f))
    side = dict(meta, sha256=file_sha256(path), file=path.name, size=path.stat().st_size)
    _atomic_write(sidecar_path(path), lambda f: f.write(json.dumps(side, indent=1).encode()))


def verify_checkpoint(path: Path | str) -> None:
    """Raise CheckpointError unless the file matches the SHA-256 its sidecar recorded."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    side = sidecar_path(path)
    if not side.is_file():
        return  # a copied-out .pt without sidecar is still readable; torch.load checks its structure
    try:
        expected = json.loads(side.read_text())["sha256"]
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"Checkpoint sidecar {side} is unreadable ({exc}); the checkpoint is incomplete."
        ) from exc
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(
            f"Checkpoint {path} is damaged or truncated (sha256 {actual[:12]}… != recorded {expected[:12]}…); "
            "use an earlier checkpoint."
        )


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with ``weights_only=True`` after the integrity check; ``meta`` comes back as a dict."""
    path = Path(path)
    verify_checkpoint(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint {path} cannot be read ({exc}); it is truncated or not a checkpoint."
        ) from exc
    if not isinstance(state, dict) or "meta_json" not in state:
        raise CheckpointError(f"{path} is not an AI Art Gallery checkpoint (no metadata inside).")
    state["meta"] = _normalised_meta(json.loads(state.pop("meta_json")))
    return state


def _normalised_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata with the network config completed by the defaults of the time it was saved."""
    config = meta.get("config")
    if isinstance(config, dict) and isinstance(config.get("network"), dict):
        meta["config"] = {**config, "network": with_saved_defaults(config["network"])}
    return meta


def list_checkpoints(run_dir: Path | str) -> list[Path]:
    """All checkpoint files under run_dir/checkpoints (or run_dir itself), oldest first."""
    run_dir = Path(run_dir)
    folder = run_dir / "checkpoints" if (run_dir / "checkpoints").is_dir() else run_dir
    return sorted(folder.glob(CHECKPOINT_GLOB))


def latest_checkpoint(run_dir: Path | str) -> Path | None:
    """The newest checkpoint that passes the integrity check and loads; damaged ones are skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            load_checkpoint(path)
        except CheckpointError:
            continue
        return path
    return None


def checkpoint_metadata(path: Path | str) -> dict[str, Any]:
    """Config, kimg, step and metrics of a checkpoint, cheaply from the sidecar when present."""
    path = Path(path)
    side = sidecar_path(path)
    if side.is_file():
        try:
            meta = json.loads(side.read_text())
        except ValueError as exc:
            raise CheckpointError(f"Checkpoint sidecar {side} is not valid JSON ({exc}).") from exc
        return _normalised_meta({k: v for k, v in meta.items() if k not in ("sha256", "file", "size")})
    return load_checkpoint(path)["meta"]


def load_generator(path: Path | str, device: str | torch.device | None = None) -> Generator:
    """The EMA generator of a checkpoint, rebuilt from its stored config, in eval mode."""
    state = load_checkpoint(path)
    network = NetworkConfig.from_dict(state["meta"]["config"]["network"])
    G, _ = build_networks(network)
    G.load_state_dict(state["G_ema"])
    G.eval().requires_grad_(False)
    if device is not None:
        G.to(device)
    return G
