"""StyleGAN training: the plain-PyTorch engine (``training.engine``, no Django)
and, beside it, the Django app for training runs and checkpoints.

This file must import nothing: the engine is used on machines without Django.
"""
