"""numpy_sae: a deep softmax autoencoder for music genres, written from scratch in NumPy.

The network (``model``) stands on pure functions (``functional``) and layers
(``layers``); optimizers (``optim``) and gradient checks (``gradcheck``) know
only arrays; ``audio``, ``gtzan`` and ``synth`` turn music into windows;
``train``, ``metrics`` and ``plots`` sit above both; ``job`` and ``cli`` on top.
"""

from .estimator import SoftmaxAutoencoder
from .nn.model import LossTerms, SoftmaxAutoencoderNetwork, SoftmaxClassifier

__version__ = "0.1.0"
__all__ = ["LossTerms", "SoftmaxAutoencoder", "SoftmaxAutoencoderNetwork", "SoftmaxClassifier",
           "__version__"]
