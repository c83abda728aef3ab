"""numpy_sae: a deep softmax autoencoder for music genres, written from scratch in NumPy.

The layers, from the bottom: ``nn`` (the math: functions, layers, the joint
model, optimizers, gradient checks), ``data`` beside it (audio, GTZAN trees,
synthetic data, features, splits), then training, metrics, plots, model
files, the audio model and the estimator, and ``commands`` on top (the main
job, baselines, cross-validation, predict, the CLI). ``nn`` gives a reading order.
"""

__version__ = "0.3.0"

from .estimator import SoftmaxAutoencoder  # noqa: E402  (after __version__, which cli reads)
from .nn.model import LossTerms, SoftmaxAutoencoderNetwork, SoftmaxClassifier  # noqa: E402



def load_model(path):
    """A trained model, ready to classify music: ``numpy_sae.load_model("runs/NAME")``.

    Parameters
    ----------
    path : a run folder (``numpy-sae train`` writes one) or its ``model.npz``

    Returns
    -------
    numpy_sae.audio_model.AudioModel, whose ``predict_file(path)`` and
    ``predict_audio(y, sr)`` return a :class:`~numpy_sae.audio_model.Prediction`
    (``.genre``, ``.probabilities``, ``.timeline``), for every model kind

    Raises
    ------
    numpy_sae.modelfile.ModelFileError for a damaged file or one without audio settings
    """
    from pathlib import Path

    from .audio_model import AudioModel
    path = Path(path)
    model, _, _ = AudioModel.load(path / "model.npz" if path.is_dir() else path)
    return model


__all__ = ["LossTerms", "SoftmaxAutoencoder", "SoftmaxAutoencoderNetwork", "SoftmaxClassifier",
           "load_model", "__version__"]
