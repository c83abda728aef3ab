"""A deterministic synthetic GTZAN: ten genres of 30 s, 22050 Hz, 16-bit mono WAV clips.

GTZAN cannot be downloaded everywhere, so the main job needs music it can make.
Each genre is a recipe for one small arranger: tempo, swing, drum patterns, a
bass style, a chord instrument, distortion, progression and brightness. Every
song draws its own tempo, key, mix, levels, pattern variations and noise, so
genres overlap as real ones do: learnable, not trivial. Everything is
vectorized NumPy (no per-sample loops); one seed gives byte-identical files.
It is synthetic audio: results on it say the code works, not how it does on music.
"""

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from .gtzan import DEFAULT_GENRES, GENRES
from .npzio import process_alive
from .parallel import map_in_workers

SAMPLE_RATE = 22050
STEPS_PER_BAR = 16  # the arranger's grid is sixteenth notes


@dataclass(frozen=True)
class Recipe:
    """How one genre is arranged. Patterns are 16 sixteenth steps: 'x' loud, 'o' soft, '.' rest."""

    tempo: tuple
    swing: float
    kick: str
    snare: str
    hat: str
    hat_kind: str          # "closed", "open" or "ride"
    drums: float           # drum level (0: no drums)
    bass: str              # "root", "walk", "octave", "sub", "fifths" or "none"
    chords: str            # instrument of the chord part
    chord_rhythm: str      # 16-step pattern of chord hits, or "sustain"
    progression: tuple     # chord roots in semitones above the key, one per bar
    minor: bool
    drive: float           # tanh distortion on the chord part (0: clean)
    lead: float            # level of a melody line (0: none)
    brightness: tuple      # range of the master low-pass cut-off in Hz
    seventh: bool = False  # keys chords add the minor seventh (jazz voicing)
    lead_voice: str = "organ"
    swells: bool = False   # slow dynamics over seconds (orchestral), not beats


RECIPES = {
    "blues": Recipe((60, 100), 0.30, "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.",
                    "closed", 0.6, "walk", "pluck", "x..x..x.x..x..x.",
                    (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7), False, 0.3, 0.5, (2500, 6000)),
    "classical": Recipe((60, 100), 0.0, "." * 16, "." * 16, "." * 16, "closed", 0.0, "none",
                        "strings", "sustain", (0, 5, 7, 0, 9, 5, 7, 0), False, 0.0, 0.7,
                        (3000, 7000), lead_voice="strings", swells=True),
    "country": Recipe((90, 130), 0.10, "x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x.",
                      "closed", 0.5, "fifths", "pluck", "x.x.x.x.x.x.x.x.",
                      (0, 5, 7, 0), False, 0.0, 0.4, (3500, 8000)),
    "disco": Recipe((110, 130), 0.0, "x...x...x...x...", "....x.......x...", "..x...x...x...x.",
                    "open", 0.8, "octave", "strings", "x.......x.......",
                    (0, 5, 0, 7), True, 0.0, 0.3, (4000, 9000)),
    "hiphop": Recipe((80, 100), 0.15, "x......x.xx.....", "....x.......x...", "x.x.x.x.x.x.x.x.",
                     "closed", 0.9, "sub", "keys", "x.........x.....",
                     (0, 8, 3, 10), True, 0.0, 0.2, (2000, 5000)),
    "jazz": Recipe((100, 180), 0.33, "x.......o.......", "..o.....o.o...o.", "x...x.xx....x.xx",
                   "ride", 0.4, "walk", "keys", "...x......x..x..",
                   (2, 7, 0, 0, 9, 2, 7, 0), False, 0.0, 0.5, (2500, 6000), seventh=True),
    "metal": Recipe((140, 200), 0.0, "xxxxxxxxxxxxxxxx", "....x.......x...", "x.x.x.x.x.x.x.x.",
                    "ride", 1.0, "root", "power", "x.x.x.x.x.x.x.x.",
                    (0, 0, 8, 10), True, 4.0, 0.0, (4000, 9000)),
    "pop": Recipe((100, 128), 0.0, "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.",
                  "closed", 0.7, "root", "keys", "x.....x.....x...",
                  (0, 7, 9, 5), False, 0.0, 0.6, (4000, 9000)),
    "reggae": Recipe((70, 90), 0.10, "........x.......", "........x.......", "x.x.x.x.x.x.x.x.",
                     "closed", 0.6, "root", "organ", "..x...x...x...x.",
                     (0, 5, 0, 7), False, 0.0, 0.2, (2500, 6000)),
    "rock": Recipe((100, 150), 0.0, "x.......x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x.",
                   "closed", 0.8, "root", "power", "x.x.x.x.x.x.x.x.",
                   (0, 10, 5, 0), False, 1.5, 0.3, (3500, 8000)),
}


# ----- sound sources -----------------------------------------------------------------
def _midi_hz(note):
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _tone(freq, n, partials, decays, attack, rng, vibrato=0.0):
    """A harmonic tone: sum_k a_k sin(2 pi k f t + phi_k) exp(-d_k t), with an attack ramp.

    partials, decays : arrays of shape (K,), amplitude and decay rate (1/s) per harmonic.
    Returns float32 of shape (n,).
    """
    t = np.arange(n, dtype=np.float32) / np.float32(SAMPLE_RATE)
    phase = (2 * np.pi * freq) * t
    if vibrato:
        rate = rng.uniform(4.5, 6.5)
        phase += np.float32(vibrato * freq / rate) * np.sin((2 * np.pi * rate) * t)
    out = np.zeros(n, dtype=np.float32)
    nyquist = SAMPLE_RATE / 2
    for k, (amp, decay) in enumerate(zip(partials, decays), start=1):
        if k * freq >= nyquist:
            break
        out += np.float32(amp) * np.sin(k * phase + np.float32(rng.uniform(0, 2 * np.pi))) \
            * np.exp(np.float32(-decay) * t)
    if attack > 0:
        out *= np.minimum(1.0, t / np.float32(attack))
    # A short release avoids a click where the note is cut.
    tail = min(n, 64)
    out[n - tail:] *= np.linspace(1, 0, tail, dtype=np.float32)
    return out


_K = np.arange(1, 11, dtype=np.float32)
# name -> (harmonic amplitudes, decay rate of each harmonic in 1/s, attack in s, vibrato depth)
INSTRUMENTS = {
    "strings": (1 / _K[:8], np.full(8, 0.3), 0.25, 0.006),
    "organ": ([1, .6, .4, 0, .3, 0, .15, .1], np.full(8, 1.0), 0.01, 0.0),
    "keys": (1 / _K[:8] ** 1.5, 1.5 + 0.8 * _K[:8], 0.005, 0.0),
    "pluck": (1 / _K[:8], 3.0 + 2.5 * _K[:8], 0.002, 0.0),  # bright, high partials die first
    "bass": ([1, .45, .2], [2.5, 4, 6], 0.004, 0.0),
    "sub": ([1, .1], [0.9, 2], 0.003, 0.0),
    "power": (1 / _K, np.full(10, 1.2), 0.003, 0.0),  # sawtooth-like, distorted below
}


def _instrument(name, freq, n, rng, drive=0.0):
    """One note (or power chord) of a named instrument; float32 shape (n,)."""
    if name not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {name!r}")
    partials, decays, attack, vibrato = INSTRUMENTS[name]
    if name != "power":
        return _tone(freq, n, partials, decays, attack, rng, vibrato)
    # Root and fifth through a tanh: the distorted guitar.
    tone = _tone(freq, n, partials, decays, attack, rng) \
        + _tone(freq * 1.4983, n, partials, decays, attack, rng)
    gain = max(drive, 0.5)
    return np.tanh(gain * tone) / np.tanh(gain)


def _drum(kind, rng):
    """One drum hit as float32: kick, snare, closed/open hi-hat or ride."""
    def noise(seconds):
        return rng.standard_normal(int(seconds * SAMPLE_RATE)).astype(np.float32)

    def env(n, rate):
        return np.exp(-rate * np.arange(n, dtype=np.float32) / SAMPLE_RATE)

    if kind == "kick":
        n = int(0.35 * SAMPLE_RATE)
        t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
        sweep = 45 + rng.uniform(60, 120) * np.exp(-t * 30)  # the pitch drop is the "thump"
        phase = 2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE
        return (np.sin(phase) * env(n, 9)).astype(np.float32)
    if kind == "snare":
        body = noise(0.25)
        n = len(body)
        t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
        return (0.7 * body * env(n, 18) + 0.6 * np.sin(2 * np.pi * 190 * t) * env(n, 25))
    hiss = np.diff(noise(0.5), prepend=0.0)  # differencing tilts noise toward the highs
    length, rate = {"closed": (0.06, 70), "open": (0.3, 12), "ride": (0.5, 7)}[kind]
    n = int(length * SAMPLE_RATE)
    return 0.35 * hiss[:n] * env(n, rate)


def _place(out, sound, start, gain):
    """Mix ``sound`` into ``out`` at sample ``start`` (cut at the end of ``out``)."""
    if start >= len(out):
        return
    end = min(len(out), start + len(sound))
    out[start:end] += np.float32(gain) * sound[:end - start]


# ----- the arranger ------------------------------------------------------------------
def _vary(pattern, rng, p):
    """Drop or add hits with probability p: no two songs of a genre share a groove exactly."""
    steps = np.array([c != "." for c in pattern])
    loud = np.array([c == "x" for c in pattern])
    flip = rng.random(len(pattern)) < p
    steps ^= flip
    return steps, np.where(loud, 1.0, 0.55)


@dataclass
class _Song:
    """What every part of one song shares: its grid, key, note cache and random source.

    starts : int64 (n_steps,), sample position of every sixteenth step (swing included)
    step : seconds per sixteenth; n : samples in the song
    """

    recipe: Recipe
    rng: np.random.Generator
    n: int
    step: float
    starts: np.ndarray
    key: int
    third: int
    notes: dict

    @property
    def n_steps(self):
        return len(self.starts)

    def samples(self, steps):
        """Length of ``steps`` sixteenths in samples."""
        return int(steps * self.step * SAMPLE_RATE)

    def note(self, instrument, midi, n_samples):
        # Notes repeat a lot; synthesizing each (instrument, pitch, length) once keeps this fast.
        signature = (instrument, midi, n_samples)
        if signature not in self.notes:
            self.notes[signature] = _instrument(instrument, _midi_hz(midi), n_samples, self.rng,
                                                self.recipe.drive)
        return self.notes[signature]

    def chord_roots(self):
        """The MIDI root of every bar, following the recipe's progression."""
        progression = self.recipe.progression
        bars = self.n_steps // STEPS_PER_BAR + 1
        return [40 + self.key + progression[b % len(progression)] for b in range(bars)]


def _drum_part(song):
    recipe, rng = song.recipe, song.rng
    out = np.zeros(song.n, dtype=np.float32)
    if not recipe.drums:
        return out
    kit = {name: _drum(name, rng) for name in ("kick", "snare")}
    kit["hat"] = _drum(recipe.hat_kind, rng)
    for name, pattern in (("kick", recipe.kick), ("snare", recipe.snare), ("hat", recipe.hat)):
        steps, accents = _vary(pattern, rng, 0.06)
        level = rng.uniform(0.6, 1.0)
        for i in range(song.n_steps):
            if steps[i % 16]:
                _place(out, kit[name], song.starts[i], level * accents[i % 16]
                       * rng.uniform(0.85, 1.0))
    return out


def _bass_hits(style, root, third, rng):
    """(step offset in the bar, MIDI note, length in steps) of one bar of a bass style."""
    if style == "sub":
        return [(0, root, 12)]
    if style == "walk":
        walk = [root, root + third, root + 7, root + rng.choice([9, 10, 11])]
        return [(4 * q, walk[q], 4) for q in range(4)]
    if style == "octave":
        return [(2 * e, root + 12 * (e % 2), 2) for e in range(8)]
    if style == "fifths":
        return [(4 * q, root + (7 if q % 2 else 0) - (12 if q % 2 else 0), 4) for q in range(4)]
    return [(2 * e, root, 2) for e in range(8)]  # root eighths


def _bass_part(song, roots):
    style = song.recipe.bass
    out = np.zeros(song.n, dtype=np.float32)
    if style == "none":
        return out
    instrument = "sub" if style == "sub" else "bass"
    for b, root in enumerate(roots):
        for offset, midi, length in _bass_hits(style, root, song.third, song.rng):
            i = b * STEPS_PER_BAR + offset
            if i < song.n_steps:
                _place(out, song.note(instrument, midi, song.samples(length)), song.starts[i], 1.0)
    return out


def _chord_part(song, roots):
    recipe, rng = song.recipe, song.rng
    out = np.zeros(song.n, dtype=np.float32)
    power = recipe.chords == "power"
    voicing = (0, 7) if power else (0, song.third, 7)
    if recipe.chords == "keys" and recipe.seventh:
        voicing = (0, song.third, 7, 10)
    octave = 12 if power else 24
    if recipe.chord_rhythm == "sustain":
        hits, length = [0], song.samples(STEPS_PER_BAR)
    else:
        steps, _ = _vary(recipe.chord_rhythm, rng, 0.05)
        hits, length = [s for s in range(16) if steps[s]], song.samples(3)
    for b, root in enumerate(roots):
        for offset in hits:
            i = b * STEPS_PER_BAR + offset
            if i >= song.n_steps:
                continue
            tones = [root + octave] if power else [root + octave + v for v in voicing]
            for midi in tones:
                _place(out, song.note(recipe.chords, midi, length), song.starts[i],
                       rng.uniform(0.7, 1.0))
    return out


def _lead_part(song):
    recipe, rng = song.recipe, song.rng
    out = np.zeros(song.n, dtype=np.float32)
    if not recipe.lead:
        return out
    scale = np.array([0, 2, song.third, 5, 7, 8 if recipe.minor else 9,
                      10 if recipe.minor else 11])
    degree = i = 0
    while i < song.n_steps:
        length = int(rng.choice([2, 4, 4, 8]))
        degree = int(np.clip(degree + rng.integers(-2, 3), -3, 10))
        midi = 64 + song.key + 12 * (degree // 7) + scale[degree % 7]
        if rng.random() > 0.15:
            _place(out, song.note(recipe.lead_voice, midi, song.samples(length)),
                   song.starts[i], 1.0)
        i += length
    return out


def _master(song, parts):
    """Mix the parts at random levels, then the recording: swells, low-pass, hiss, loudness."""
    recipe, rng, n = song.recipe, song.rng, song.n
    levels = {"drums": recipe.drums, "bass": 0.8, "chords": 0.5, "lead": recipe.lead * 0.6}
    mix = np.zeros(n, dtype=np.float32)
    for name, part in parts.items():
        peak = np.abs(part).max()
        if peak > 0 and levels[name] > 0:
            mix += np.float32(levels[name] * rng.uniform(0.5, 1.3) / peak) * part
    if recipe.swells:
        t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
        mix *= 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.03, 0.12) * t + rng.uniform(0, 6.3))
    # A one-pole low-pass sets the recording's brightness, then tape-like hiss.
    cutoff = rng.uniform(*recipe.brightness)
    a = np.exp(-2 * np.pi * cutoff / SAMPLE_RATE)
    from scipy.signal import lfilter  # importing scipy.signal takes about 1 s
    mix = lfilter([1 - a], [1, -a], mix).astype(np.float32)
    mix += rng.uniform(0.002, 0.02) * np.abs(mix).max() * rng.standard_normal(n).astype(np.float32)
    rms = np.sqrt(np.mean(mix.astype(np.float64) ** 2))
    mix *= np.float32(rng.uniform(0.06, 0.22) / max(rms, 1e-9))
    return np.clip(mix, -1.0, 1.0)


def render_song(genre, rng, duration=30.0):
    """Synthesize one song of a genre: drums, bass, chords and lead, then the master.

    Parameters
    ----------
    genre : str, one of :data:`GENRES`
    rng : numpy.random.Generator, the song's own random source
    duration : float, seconds

    Returns
    -------
    signal : ndarray float32, shape (round(duration * 22050),), peak <= 1
    """
    recipe = RECIPES[genre]
    n = int(round(duration * SAMPLE_RATE))
    bpm = rng.uniform(*recipe.tempo)
    step = 60.0 / bpm / 4
    swing = recipe.swing * rng.uniform(0.5, 1.2)
    n_steps = int(duration / step) + 1
    # Sample position of every sixteenth; swing delays the off-beat eighths.
    starts = np.arange(n_steps) * step
    starts[2::4] += swing * step
    starts = (starts * SAMPLE_RATE).astype(np.int64)
    key = int(rng.integers(0, 12))
    song = _Song(recipe, rng, n, step, starts, key, 3 if recipe.minor else 4, {})
    roots = song.chord_roots()
    # The parts draw from the song's generator in this order; changing it changes every file.
    parts = {"drums": _drum_part(song)}
    parts["bass"] = _bass_part(song, roots)
    parts["chords"] = _chord_part(song, roots)
    parts["lead"] = _lead_part(song)
    return _master(song, parts)


# ----- writing a tree ----------------------------------------------------------------
def _song_rng(seed, genre, index):
    return np.random.default_rng([seed, GENRES.index(genre), index])


def _write_one(task):
    genre, index, seed, duration, path = task
    signal = render_song(genre, _song_rng(seed, genre, index), duration)
    wavfile.write(path, SAMPLE_RATE, np.round(signal * 32767).astype(np.int16))
    return path


def generate_dataset(root, genres=DEFAULT_GENRES, clips_per_genre=100,
                     duration=30.0, seed=0, workers=None, progress=None):
    """Write a GTZAN-shaped tree ``root/genres_original/<genre>/<genre>.000NN.wav``.

    Parameters
    ----------
    root : str or Path, created if needed
    genres : sequence of names from :data:`GENRES`
    clips_per_genre : int
    duration : float, seconds per clip
    seed : int; the same seed writes byte-identical files
    workers : int or None, processes (both cores by default for large trees)
    progress : callable(clips written, total) or None

    Returns
    -------
    Path of the ``genres_original`` folder.

    Notes
    -----
    The tree is built in a temporary folder and renamed into place at the end,
    so an interrupted run never leaves a half-written dataset behind.
    """
    unknown = [g for g in genres if g not in RECIPES]
    if unknown:
        raise ValueError(f"unknown synthetic genre(s) {unknown}; choose from {list(GENRES)}")
    if clips_per_genre < 1 or duration <= 0:
        raise ValueError("clips_per_genre must be >= 1 and duration > 0")
    root = Path(root)
    final = root / "genres_original"
    if final.exists() and not (final / "SYNTHETIC.json").exists() and (
            not final.is_dir() or any(final.iterdir())):
        # Only a tree this generator wrote (it leaves SYNTHETIC.json) is ever replaced: a
        # Kaggle Data/ folder holds a real genres_original.
        raise FileExistsError(f"{final} exists and was not written by numpy_sae's generator; "
                              "it is not replaced: choose another folder")
    root.mkdir(parents=True, exist_ok=True)
    # A staging folder whose process is gone (killed by SIGKILL or a power cut) goes too.
    for stale in root.glob(".genres_original.tmp*"):
        pid = stale.name[len(".genres_original.tmp"):]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = root / f".genres_original.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    tasks = []
    for genre in genres:
        (staging / genre).mkdir(parents=True)
        for i in range(clips_per_genre):
            tasks.append((genre, i, seed, duration, str(staging / genre / f"{genre}.{i:05d}.wav")))
    if workers is None:
        workers = min(os.cpu_count() or 1, 2) if len(tasks) >= 16 else 1
    try:
        map_in_workers(_write_one, tasks, workers, progress=progress)
        (staging / "SYNTHETIC.json").write_text(json.dumps(
            {"generator": "numpy_sae.synth", "seed": seed, "genres": list(genres),
             "clips_per_genre": clips_per_genre, "duration": duration}, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
