"""The generator-size options both engine benchmarks take, and the network they describe."""

from __future__ import annotations

import argparse

from training.engine.config import NetworkConfig


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--channel-base", type=int, default=4096, help="channels at r = min(base // r, max)")
    parser.add_argument("--channel-max", type=int, default=128)
    parser.add_argument("--z-dim", type=int, default=512, help="z and w size")
    parser.add_argument("--mapping-layers", type=int, default=8)
    parser.add_argument("--style-mode", choices=["modulated", "adain"], default="modulated")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")


def network_config(args: argparse.Namespace, resolution: int) -> NetworkConfig:
    return NetworkConfig(
        resolution=resolution,
        z_dim=args.z_dim,
        w_dim=args.z_dim,
        mapping_layers=args.mapping_layers,
        channel_base=args.channel_base,
        channel_max=args.channel_max,
        style_mode=args.style_mode,
    )
