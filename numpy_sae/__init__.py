"""numpy_sae: a deep softmax autoencoder for music genres, written from scratch in NumPy.

The layers, from the bottom: ``nn`` (the math: functions, layers, the joint
model, optimizers, gradient checks), ``data`` beside it (audio, GTZAN trees,
synthetic data, features, splits), then training, metrics, plots, model
files, the audio model and the estimator, and ``commands`` on top (the main
job, baselines, cross-validation, predict, the CLI). ``nn`` gives a reading order.
"""

__version__ = "0.2.0"

from .estimator import SoftmaxAutoencoder  # noqa: E402  (after __version__, which cli reads)
from .nn.model import LossTerms, SoftmaxAutoencoderNetwork, SoftmaxClassifier  # noqa: E402

__all__ = ["LossTerms", "SoftmaxAutoencoder", "SoftmaxAutoencoderNetwork", "SoftmaxClassifier",
           "__version__"]
