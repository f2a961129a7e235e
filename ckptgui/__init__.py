"""ckptgui: a desktop checkpoint manager for TensorFlow training."""

__version__ = "0.1.0"
