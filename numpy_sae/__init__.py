"""numpy_sae: a deep softmax autoencoder written from scratch in NumPy."""

from .model import LossTerms, SoftmaxAutoencoderNetwork

__version__ = "0.1.0"
__all__ = ["LossTerms", "SoftmaxAutoencoderNetwork", "__version__"]
