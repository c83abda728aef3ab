"""Compressed audio files made inside the tests with PyAV (the [audio] extra's decoder),
so no test depends on ffmpeg or on files outside the repository."""

import numpy as np

# (container format, codec, sample format) per file extension
FORMATS = {".mp3": ("mp3", "libmp3lame", "fltp"), ".flac": ("flac", "flac", "s16"),
           ".ogg": ("ogg", "vorbis", "fltp"), ".opus": ("ogg", "libopus", "flt"),
           ".m4a": ("mp4", "aac", "fltp"), ".aiff": ("aiff", "pcm_s16be", "s16")}


def write_encoded(path, signal, rate, channels=2):
    """Write ``signal`` (float32 (n,), in [-1, 1]) as ``channels`` equal channels at
    ``rate`` Hz, in the format of ``path``'s extension."""
    import av
    container_format, codec, sample_format = FORMATS[path.suffix.lower()]
    layout = "stereo" if channels == 2 else "mono"
    if codec == "libopus":
        rate = 48000 if rate not in (8000, 12000, 16000, 24000, 48000) else rate
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        stream.codec_context.format = sample_format
        block = 1024 if codec != "flac" else 4096
        samples = np.repeat(signal.astype(np.float32)[None, :], channels, axis=0)
        pts = 0
        for start in range(0, samples.shape[1], block):
            chunk = samples[:, start:start + block]
            if sample_format == "s16":
                data = (np.clip(chunk, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            elif sample_format == "flt":
                data = np.ascontiguousarray(chunk.T.reshape(1, -1))
            else:  # planar float
                data = np.ascontiguousarray(chunk)
            frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
            frame.sample_rate, frame.pts = rate, pts
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
