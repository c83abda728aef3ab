"""The learnable filterbank front end: the spectrogram as a layer, gradient-checked."""

import numpy as np
import pytest

from numpy_sae.nn import functional as F
from numpy_sae.nn.filterbanks import fourier_frequencies, hann, mel_frequencies
from numpy_sae.nn.gradcheck import numerical_gradient_array, relative_error
from numpy_sae.nn.layers import Filterbank

BOUND = 1e-6


def test_filterbank_gradients_wrt_filters_and_frames(rng):
    x, W = rng.standard_normal((5, 12)), rng.standard_normal((8, 12))
    c, cache = F.filterbank_forward(x, W)
    dout = rng.standard_normal(c.shape)
    dx, dW = F.filterbank_backward(dout, cache, need_dx=True)
    assert c.shape == (5, 4) and dW.shape == W.shape
    assert relative_error(dW, numerical_gradient_array(
        lambda: F.filterbank_forward(x, W)[0], W, dout)) < BOUND
    assert relative_error(dx, numerical_gradient_array(
        lambda: F.filterbank_forward(x, W)[0], x, dout)) < BOUND
    assert F.filterbank_backward(dout, cache)[0] is None  # the waveform is data


def test_parametric_filter_gradients_wrt_frequencies_and_window(rng):
    omega, w = rng.uniform(0.1, 3.0, 3), rng.standard_normal(10)
    W, cache = F.gabor_filters_forward(omega, w)
    dW = rng.standard_normal(W.shape)
    domega, dw = F.gabor_filters_backward(dW, cache)
    assert W.shape == (6, 10)
    assert relative_error(domega, numerical_gradient_array(
        lambda: F.gabor_filters_forward(omega, w)[0], omega, dW)) < BOUND
    assert relative_error(dw, numerical_gradient_array(
        lambda: F.gabor_filters_forward(omega, w)[0], w, dW)) < BOUND


@pytest.mark.parametrize("init, parametric", [("fourier", True), ("mel", False),
                                              ("random", False), ("mel", True),
                                              ("gabor", False)])
def test_filterbank_layer_gradients_with_the_l2sp_anchor(init, parametric, rng):
    layer = Filterbank(16, 3, init=init, rng=rng, sample_rate=8000, parametric=parametric,
                       anchor=0.3, dtype=np.float64)
    for p in layer.params.values():  # away from the start, so the anchor's pull shows
        p += 0.05 * rng.standard_normal(p.shape)
    x = rng.standard_normal((4, 16))
    dout = rng.standard_normal((4, 3))

    def loss():
        return float(np.sum(layer.forward(x) * dout)) + layer.penalty()

    loss()
    assert layer.backward(dout) is None
    for name, p in layer.params.items():
        numeric = numerical_gradient_array(lambda: np.array(loss()), p, np.array(1.0))
        assert relative_error(layer.grads[name], numeric) < BOUND, name


def test_fourier_start_is_the_log_power_spectrum():
    # At init the layer must equal log(|rfft(hann * x)|**2 + eps), for every bin.
    rng = np.random.default_rng(0)
    N = 64
    x = rng.standard_normal((7, N))
    for parametric in (False, True):
        layer = Filterbank(N, N // 2 + 1, init="fourier", parametric=parametric,
                           dtype=np.float64)
        expected = np.log(np.abs(np.fft.rfft(hann(N) * x, axis=1)) ** 2 + 1e-6)
        np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fourier_frequencies(N // 2 + 1, N),
                               2 * np.pi * np.arange(N // 2 + 1) / N)


def test_mel_start_spreads_bands_like_the_ear_and_drift_measures_the_move(rng):
    omega = mel_frequencies(40, 22050)
    hz = omega * 22050 / (2 * np.pi)
    assert hz[0] == pytest.approx(30) and hz[-1] == pytest.approx(11025)
    assert np.all(np.diff(hz) > 0) and np.diff(hz)[0] < np.diff(hz)[-1] / 10
    layer = Filterbank(32, 4, init="mel", rng=rng, dtype=np.float64)
    assert layer.drift() == 0.0
    layer.params["W"] *= 1.1
    assert layer.drift() == pytest.approx(0.1)
    with pytest.raises(ValueError, match="random start"):
        Filterbank(32, 4, init="random", rng=rng, parametric=True)


def test_gabor_bands_are_as_wide_as_their_mel_bands():
    from numpy_sae.plots import filter_responses
    layer = Filterbank(2048, 64, init="gabor", sample_rate=22050, dtype=np.float64)
    response = filter_responses(layer.filters())  # dB, each band to its peak
    width = (response > -3).sum(axis=1)  # bins within 3 dB of the peak (2049 bins)
    assert width[-2] > 10 * width[0]  # high bands are wide, low bands narrow, as in mel
    peaks = response.argmax(axis=1)
    # Above 1 kHz every frequency is within 6 dB of some band's peak: the bands tile it.
    above_1khz = np.arange(2049) * 11025 / 2048 > 1000
    assert response.max(axis=0)[above_1khz & (np.arange(2049) <= peaks[-1])].min() > -6
    with pytest.raises(ValueError, match="gabor start"):
        Filterbank(64, 4, init="gabor", parametric=True)
