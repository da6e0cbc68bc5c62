"""The generator-size options both engine benchmarks take, and the network they describe.

Derived from ``NetworkConfig``'s fields (``training.engine.option_fields``), so
a network option added to the engine is a benchmark flag at once. The
benchmarks sweep ``--resolution`` themselves, so it is left out here.
"""

from __future__ import annotations

import argparse

from training.engine.config import NetworkConfig
from training.engine.option_fields import add_option_arguments, field_specs

# Smaller than the engine's defaults, so a CPU run of a benchmark takes seconds.
BENCH_DEFAULTS = {"channel_base": 4096, "channel_max": 128}
SWEPT = {"resolution"}


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    specs = [s for s in field_specs(NetworkConfig, "network") if s.name not in SWEPT]
    defaults = {s.name: s.default for s in specs} | BENCH_DEFAULTS
    add_option_arguments(parser.add_argument_group("network"), specs, defaults)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")


def network_config(args: argparse.Namespace, resolution: int) -> NetworkConfig:
    values = {
        s.name: getattr(args, s.name) for s in field_specs(NetworkConfig, "network") if s.name not in SWEPT
    }
    return NetworkConfig(resolution=resolution, **values)
