"""ganbench: a reproducible benchmark of GAN losses and architectures."""

__version__ = "0.1.0"
