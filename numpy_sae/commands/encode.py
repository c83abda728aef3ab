"""Codes to take away: ``encode`` writes the codes of audio files, ``reconstruct`` lets you
listen to what a code keeps.

``encode`` runs the encoder over every window of each file and writes the
per-window codes and each file's mean code (``.npz`` or ``.csv``), to use as
features elsewhere. ``reconstruct`` decodes every window of one song and
writes the result as WAV at the downsampled rate, with the downsampled
original beside it, so the two can be compared by ear.
"""

import csv
import os
import sys
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from ..audio_model import AudioModel
from ..data.audio import frame
from ..data.features import hann
from ..encodings import r2_score
from .experiment import JobError
from .outputs import check_new_files, written_output
from .predict import EMPTY_FOLDER, expand_inputs, model_path, read_each

CODE_FORMATS = (".npz", ".csv")


def _autoencoder(model_dir):
    model, _, _ = AudioModel.load(model_path(model_dir))
    if not model.network.reconstructs:
        raise JobError(f"{model_path(model_dir)} holds a {type(model.network).__name__}, which "
                       "has no encoder or decoder")
    return model


def run_encode(model_dir, inputs, out, log=print, err=None, force=False):
    """Encode every window of every file; write codes to ``out`` (.npz or .csv).

    Returns the number of files that could not be encoded (each is named by ``err``).
    The .npz holds ``files`` (n_files,), ``file_codes`` (n_files, code_dim), the mean
    code of each file, ``codes`` (n_windows, code_dim) and ``window_file`` (n_windows,),
    the index of each window's file. The .csv has one row per window and one "mean"
    row per file: file, window, code_0 ... code_{k-1}.
    """
    err = err or (lambda line: print(line, file=sys.stderr))
    out = Path(out)
    if out.suffix.lower() not in CODE_FORMATS:
        raise JobError(f"--out must end in {' or '.join(CODE_FORMATS)}, got {out}")
    model = _autoencoder(model_dir)
    expanded = list(expand_inputs(inputs, err, "encode"))
    files = [f for f in expanded if f is not EMPTY_FOLDER]
    empty = len(expanded) - len(files)
    check_new_files([out], [model_path(model_dir), *files], force)
    network = model.network
    names, codes, file_codes, segment_codes = [], [], [], []

    def read(path):
        x = model.file_windows(path)
        return x, network.encode(x)
    done = read_each(files, read, "encode", err)
    failed = len(files) - len(done) + empty
    for _, path, (x, window_codes) in done:
        if model.segmented:  # (segments, frames, code) -> one row per frame
            segment_codes.append(network.pooled_codes(x))
            window_codes = window_codes.reshape(-1, network.code_dim)
        names.append(os.fsdecode(path))
        codes.append(window_codes)
        file_codes.append(window_codes.mean(axis=0))
    if not names:
        raise JobError(f"no file could be encoded ({failed} failed, each named above); "
                       "nothing written")
    window_file = np.repeat(np.arange(len(codes)), [len(c) for c in codes])
    unit = "frames" if model.segmented else "windows"
    if out.suffix.lower() == ".npz":
        arrays = {"files": np.array(names), "file_codes": np.array(file_codes),
                  "codes": np.concatenate(codes), "window_file": window_file}
        if model.segmented:
            arrays["segment_codes"] = np.concatenate(segment_codes)
            arrays["segment_file"] = np.repeat(np.arange(len(codes)),
                                               [len(c) for c in segment_codes])
        with written_output(out, force) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        with written_output(out, force) as tmp:
            _write_csv(tmp, names, codes, file_codes)
    log(f"wrote the {network.code_dim}-dim codes of {len(names)} files "
        f"({len(window_file)} {unit}"
        + (f", and each segment's {2 * network.code_dim}-dim pooled codes"
           if model.segmented and out.suffix.lower() == ".npz" else "") + f") to {out}")
    return failed


def _write_csv(out, names, codes, file_codes):
    code_dim = file_codes[0].shape[0]
    # surrogateescape writes a file name that is not valid UTF-8 back as its own bytes.
    with open(out, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "window"] + [f"code_{i}" for i in range(code_dim)])
        for name, window_codes, mean in zip(names, codes, file_codes):
            for i, row in enumerate(window_codes):
                writer.writerow([name, i] + [f"{v:.6g}" for v in row])
            writer.writerow([name, "mean"] + [f"{v:.6g}" for v in mean])


def run_reconstruct(model_dir, song, out, log=print, force=False):
    """Decode every window of ``song``; write it and the downsampled original as WAV.

    Returns the R^2 of the reconstruction of this song (on the network's
    standardized inputs, as everywhere else).
    """
    out = Path(out)
    if out.suffix.lower() != ".wav":
        raise JobError(f"--out must end in .wav, got {out}")
    original = out.with_name(out.stem + ".original.wav")
    check_new_files([out, original], [song, model_path(model_dir)], force)
    model = _autoencoder(model_dir)
    if getattr(model.network, "front", None) is not None:
        raise JobError("this model's decoder rebuilds the log band energies of its filterbank, "
                       "not the waveform, so there is nothing to listen to; reconstruct needs "
                       "a waveform model without --front-end")
    if model.input_kind != "waveform":
        raise JobError(f"this model reads the {model.input_kind}, which cannot be turned back "
                       "into sound; reconstruct needs a waveform model")
    pre = model.preprocessing
    network = model.network
    if model.segmented:
        segments = model.file_windows(song)
        rebuilt = network.reconstruct(segments)
        r2 = r2_score(*network.reconstruction_pair(segments))
        decoded = np.concatenate([overlap_add(frames, pre.step) for frames in rebuilt])
        heard = np.concatenate([overlap_add(frames, pre.step) for frames in segments])
        count = f"{segments.shape[0] * segments.shape[1]} frames"
    else:
        signal = model.file_signal(song)
        windows = frame(signal, pre.window)  # every non-overlapping window, end to end
        rebuilt = network.reconstruct(windows)
        r2 = r2_score(*network.reconstruction_pair(windows))
        decoded, heard = rebuilt.reshape(-1), windows.reshape(-1)
        count = f"{len(windows)} windows"
    for what, signal in (("decoded", decoded), ("original", heard)):
        if not np.isfinite(signal).all():
            raise JobError(f"the {what} signal of {song} holds NaN or inf samples (a model "
                           "whose frames leave gaps, or damaged weights); nothing written")
    rate = int(round(pre.rate))
    with written_output(out, force) as tmp_out, written_output(original, force) as tmp_original:
        wavfile.write(tmp_out, rate, decoded.astype(np.float32))
        wavfile.write(tmp_original, rate, heard.astype(np.float32))
    log(f"wrote {out} (decoded, {count}) and {original} (the downsampled "
        f"original), {rate} Hz float WAV; reconstruction R^2 of this song: {r2:.3f}")
    return r2


def overlap_add(frames, hop):
    """One signal from overlapping frames (T, window): each frame weighted by a Hann
    window and added at its place, divided by the summed weights (so frames that agree
    give back the signal they came from).

    Returns float64 ((T - 1) * hop + window,)
    """
    n_frames, window = frames.shape
    weight = hann(window).astype(np.float64) + 1e-3  # never zero, also at a frame's edges
    out = np.zeros((n_frames - 1) * hop + window)
    total = np.zeros_like(out)
    for t in range(n_frames):
        out[t * hop:t * hop + window] += frames[t] * weight
        total[t * hop:t * hop + window] += weight
    return out / total
