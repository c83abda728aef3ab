"""Compressed audio (MP3, FLAC, OGG/Vorbis, Opus, M4A/AAC, AIFF, ...) through PyAV.

WAV and AU need nothing beyond NumPy and SciPy (:mod:`numpy_sae.data.audio`).
The formats people keep their music in are decoded by FFmpeg's libraries,
which PyAV's wheels carry: ``pip install "numpy_sae[audio]"``. PyAV was chosen
over soundfile (libsndfile) because it reads every one of these formats,
M4A/AAC included, which libsndfile does not.

A file is decoded block by block: each decoded block is resampled to the
model's rate by FFmpeg's resampler and its channels are averaged (as for WAV),
so memory holds one block at the file's own rate and the song only at the
model's rate, mono.
"""

import importlib.util

import numpy as np

COMPRESSED_EXTENSIONS = (".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4",
                         ".aif", ".aiff", ".aifc", ".wma", ".webm", ".mka")
AUDIO_EXTRA = 'pip install "numpy_sae[audio]"'
MAX_DECODED_SECONDS = 4 * 3600  # four hours at the model's rate; a longer stream is refused


def decoder_available():
    """Whether PyAV (the ``[audio]`` extra) is installed."""
    return importlib.util.find_spec("av") is not None


def needs_extra(path):
    """The one-line reason a file cannot be read without the extra (None if it can be)."""
    suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
    if f".{suffix}" in COMPRESSED_EXTENSIONS and not decoder_available():
        return (f".{suffix} files need a decoder: {AUDIO_EXTRA} (PyAV; WAV and AU need "
                "nothing), or convert it: ffmpeg -i song.mp3 song.wav")
    return None


def decode_audio(path, sr, error):
    """Decode any file FFmpeg reads into float32 mono at ``sr`` Hz.

    Parameters
    ----------
    path : str or Path
    sr : int, the rate to resample to
    error : the exception class to raise (``AudioError``), called with one line that
        names the file

    Returns
    -------
    signal : float32 (n_samples,), channels averaged, nominally in [-1, 1]
    """
    reason = needs_extra(path)
    if reason is not None:
        raise error(f"{path}: {reason}")
    import av

    blocks, total = [], 0
    limit = int(MAX_DECODED_SECONDS * sr)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise error(f"{path}: holds no audio stream")
            stream = container.streams.audio[0]
            # Planar float at the model's rate, the file's own channels: averaged below,
            # as WAV channels are, so every format becomes mono the same way.
            resampler = av.AudioResampler(format="fltp", rate=int(sr))
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    block = out.to_ndarray()
                    blocks.append(block.mean(axis=0, dtype=np.float32) if block.shape[0] > 1
                                  else block[0].astype(np.float32, copy=False))
                    total += blocks[-1].size
                if total > limit:
                    raise error(f"{path}: longer than {MAX_DECODED_SECONDS // 3600} hours; "
                                "cut it first (ffmpeg -t)")
            for out in resampler.resample(None):  # what the resampler still holds
                block = out.to_ndarray()
                blocks.append(block.mean(axis=0, dtype=np.float32))
    except error:
        raise
    except (av.FFmpegError, ValueError, OSError, RuntimeError, IndexError) as exc:
        raise error(f"{path}: not readable as audio ({_short(exc)})") from None
    if not blocks:
        raise error(f"{path}: contains no samples")
    return np.concatenate(blocks)


def _short(exc):
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
