"""The StyleGAN engine: plain PyTorch, no Django.

Import the submodules directly (``training.engine.networks``, ``.generate``,
``.metrics`` ...); this package file stays import-free so that importing one
part never drags in the others.
"""
