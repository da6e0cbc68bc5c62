"""Tiny network configurations for the engine's CPU tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from training.engine.config import NetworkConfig
from training.engine.networks import Generator, build_networks

TINY = dict(z_dim=32, w_dim=32, mapping_layers=2, channel_base=1024, channel_max=32)


@pytest.fixture
def tiny_config() -> Callable[..., NetworkConfig]:
    """Factory: a 32px network small enough to run in milliseconds; override any field."""

    def make(**overrides: Any) -> NetworkConfig:
        return NetworkConfig(**{"resolution": 32, **TINY, **overrides})

    return make


@pytest.fixture
def tiny_generator(tiny_config: Callable[..., NetworkConfig]) -> Generator:
    """A randomly initialised (seeded) unconditional 32px generator in eval mode."""
    torch.manual_seed(0)
    G, _ = build_networks(tiny_config())
    return G.eval()


@pytest.fixture
def one_thread():
    """One intra-op thread: the test machine's two cores are shared, and one is far faster under load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
