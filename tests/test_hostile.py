"""Hostile inputs across the public API: each gets the right answer or a clear error.

Every case of issue 13 is here: the silent wrong results (each now right or refused), the
inputs that used to hang or exhaust memory (refused up front with the size), and the errors
that used to be raw (OverflowError, ZeroDivisionError, LinAlgError, ArpackError) or that
blamed an internal parameter. A clear error is an :class:`InvalidParameterError` whose message
names the user's own parameter. The generalized Marchenko-Pastur law with widely separated
population scales is handled in its own module's tests.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import spikewise as sw
from spikewise import solvers, spectra
from spikewise._validation import InvalidParameterError
from spikewise.cli import main
from spikewise.solvers import MarchenkoPastur

# --------------------------------------------------------------------------------------------
# errors that must name the user's parameter: (call, words the message must contain)
# --------------------------------------------------------------------------------------------
_X = np.random.default_rng(0).standard_normal((100, 50))
_Y = np.tanh(_X[:, 0])
_W0 = np.random.default_rng(1).standard_normal((50, 75)) / np.sqrt(50)
_A = np.random.default_rng(2).standard_normal(75) / np.sqrt(75)


def _gmp():
    return solvers.GeneralizedMarchenkoPastur(ratio=0.5, population=[1.0])


CLEAR_ERRORS = {
    # silent wrong results, now refused
    "mp_ratio_below_resolution": (lambda: MarchenkoPastur(ratio=1e-300), ["'ratio'", "1e-16"]),
    "mp_ratio_above_resolution": (lambda: MarchenkoPastur(ratio=1e300), ["'ratio'"]),
    "one_step_spike_psi_contradicts_X": (
        lambda: solvers.one_step_spike("tanh", "tanh", psi=5, phi=1.5, eta=1.0, n=100, X=_X,
                                       y=_Y), ["'psi'", "n/d", "5"]),
    "one_step_spike_phi_contradicts_W0": (
        lambda: solvers.one_step_spike("tanh", "tanh", psi=2, phi=3, eta=1.0, n=100, W0=_W0,
                                       a=_A), ["'phi'", "N/d", "1.5"]),
    "one_step_spike_a_of_std_one": (
        lambda: solvers.one_step_spike(
            "tanh", "tanh", psi=2.0, phi=1.5, eta=5.0, n=1600,
            a=np.random.default_rng(0).standard_normal(1200)), ["'a'", "1/sqrt(N)"]),
    "mp_spike_location_negative": (
        lambda: solvers.mp_spike_location(-1.0, _gmp()), ["'ell'", "threshold"]),
    "mp_spike_location_below_threshold": (
        lambda: solvers.mp_spike_location(1.5, _gmp()), ["'ell'", "1.70711"]),
    "spectrum_negative_singular_values": (
        lambda: spectra.Spectrum([-1.0, 2.0], kind="singular"), ["'values'", "singular"]),
    # hangs and memory
    "overlay_too_many_bins": (
        lambda: sw.plot.overlay(np.linspace(0, 1, 50), MarchenkoPastur(ratio=0.5),
                                bins=10**8), ["'bins'", "10000"]),
    "overlay_too_many_edges": (
        lambda: sw.plot.overlay(np.linspace(0, 1, 50), bins=np.linspace(0, 1, 20_002)),
        ["'bins'", "10000"]),
    "one_step_huge_sizes": (
        lambda: spectra.one_step(n=10**6, d=10**5, N=10**5, rng=0), ["GiB", "allow_large"]),
    "two_step_huge_sizes": (
        lambda: spectra.two_step(n=10**6, d=10**5, N=10**5, rng=0), ["GiB", "allow_large"]),
    # raw errors of the computation, now named
    "one_step_activation_nan": (
        lambda: spectra.one_step(n=20, d=10, N=15, rng=0,
                                 activation=sw.Activation.from_callable(np.log)),
        ["'activation'", "finite"]),
    "one_step_eta0_1e300_alpha_5": (
        lambda: spectra.one_step(n=40, d=20, N=30, eta0=1e300, alpha=5, rng=0), ["'eta0'"]),
    "one_step_eta0_1e200": (
        lambda: spectra.one_step(n=40, d=20, N=30, eta0=1e200, rng=0), ["'eta0'"]),
    "one_step_noise_1e300": (
        lambda: spectra.one_step(n=40, d=20, N=30, noise=1e300, rng=0), ["'noise'"]),
    "two_step_second_eta_overflows": (
        lambda: spectra.two_step(n=40, d=20, N=30, eta0_2=1e200, rng=0,
                                 spectra=("W2",)), ["'eta0_2'"]),
    "learning_rate_overflow": (
        lambda: sw.learning_rate(1, N=10**6, alpha=100), ["'alpha'", "51.37"]),
    "one_step_alpha_overflow": (
        lambda: spectra.one_step(n=20, d=10, N=15, alpha=300, rng=0),
        ["'alpha' parameter of one_step"]),
    "covariance_outliers_1e300": (
        lambda: solvers.covariance_outliers([1e300], ratio=0.5), ["'spikes'", "1e150"]),
    "spike_onset_width_N_max_1e30": (
        lambda: solvers.spike_onset_width("tanh", "tanh", degree=1, psi=2, phi=1.5, eta0=1.0,
                                          alpha=0.45, N_max=1e30),
        ["'N_max'", "<= 1000000000000000.0"]),
    "mp_moment_overflow": (
        lambda: MarchenkoPastur(ratio=0.5).moment(10**6), ["'k'", "[0, 672]"]),
    "ck_gram_empty": (lambda: spectra.ck_gram(np.zeros((0, 0))), ["'F'", "one row"]),
    # generalized Marchenko-Pastur: bad parameters (its lost-mass case is tested with it)
    "gmp_negative_ratio": (
        lambda: solvers.GeneralizedMarchenkoPastur(ratio=-1, population=[1.0]), ["'ratio'"]),
    "gmp_nan_ratio": (
        lambda: solvers.GeneralizedMarchenkoPastur(ratio=np.nan, population=[1.0]),
        ["'ratio'"]),
    "gmp_negative_population": (
        lambda: solvers.GeneralizedMarchenkoPastur(ratio=0.5, population=[-1.0, 2.0]),
        ["'population'", "[0, inf)"]),
    "gmp_weights_not_summing_to_one": (
        lambda: solvers.GeneralizedMarchenkoPastur(ratio=0.5, population=[1.0, 2.0],
                                                   weights=[0.5, 0.6]), ["'weights'", "1"]),
    # errors that blamed internal parameters
    "one_step_preprocess_banana": (
        lambda: spectra.one_step(n=20, d=10, N=15, preprocess="banana", rng=0),
        ["'preprocess' parameter of one_step"]),
}


@pytest.mark.parametrize("case", list(CLEAR_ERRORS))
def test_clear_error_names_the_parameter(case):
    call, words = CLEAR_ERRORS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InvalidParameterError) as info:
            call()
    message = str(info.value)
    for word in words:
        assert word in message, (case, message)


# --------------------------------------------------------------------------------------------
# silent wrong results, now right
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [1e-16, 1e-8, 0.5, 1.0, 4.0, 1e8, 1e16])
def test_mp_keeps_its_mass_at_extreme_ratios(ratio):
    law = MarchenkoPastur(ratio=ratio)
    assert law.support, ratio
    (lo, hi), = law.support
    # continuous mass from the cdf's jump across the support, plus the atoms
    assert law.cdf(hi) - law.cdf(np.nextafter(lo, -np.inf)) + law.atoms[1].sum() \
        == pytest.approx(1.0, abs=1e-12)
    assert law.continuous_mass == pytest.approx(min(1.0, 1.0 / ratio), rel=1e-12)
    assert law.mean() == pytest.approx(1.0, rel=1e-10)


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e150, 1e300])
def test_mp_pdf_scales_exactly(scale):
    # the law of scale * MP(ratio, 1): pdf(x) = pdf_1(x / scale) / scale, never NaN
    law, unit = MarchenkoPastur(ratio=0.5, scale=scale), MarchenkoPastur(ratio=0.5)
    t = np.linspace(unit.lower_edge, unit.upper_edge, 9)[1:-1]
    got = law.pdf(t * scale)
    assert np.all(np.isfinite(got)) and np.all(got > 0)
    np.testing.assert_allclose(got * scale, unit.pdf(t), rtol=1e-13)
    np.testing.assert_allclose(law.cdf(t * scale), unit.cdf(t), rtol=1e-13)
    np.testing.assert_allclose(law.stieltjes(-t * scale) * scale, unit.stieltjes(-t),
                               rtol=1e-13)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 3.0])
def test_ppf_hits_the_ends_exactly(ratio):
    law = MarchenkoPastur(ratio=ratio)
    assert law.ppf(1.0) == law.upper_edge
    assert law.ppf(0.0) == (0.0 if ratio >= 1 else law.lower_edge)
    # and near the top the quantile is accurate (the cdf's cube-root flatness there)
    q = 1.0 - np.logspace(-12, -3, 10)
    np.testing.assert_allclose(law.sf(law.ppf(q)), 1.0 - q, rtol=1e-3, atol=1e-15)


def test_one_step_spike_consistent_arrays_accepted():
    res = solvers.one_step_spike("tanh", "tanh", psi=2.0, phi=1.5, eta=1.0, n=100, X=_X, y=_Y,
                                 W0=_W0, a=_A)
    assert (res.params["d"], res.params["N"]) == (50, 75)


def test_one_step_spike_never_negative_ck_edge():
    # a large step at small N leaves the first-order CK correction: NaN and a warning,
    # never the negative edge it used to report
    with pytest.warns(RuntimeWarning, match="first-order correction"):
        res = solvers.one_step_spike("tanh", "tanh", psi=2.0, phi=1.5, eta=50.0, n=40)
    assert np.isnan(res.finite.ck_bulk_edge)
    assert np.isfinite(res.finite.top_singular_value)
    ok = solvers.one_step_spike("tanh", "tanh", psi=2.0, phi=1.5, eta=2.0, n=40)
    assert ok.finite.ck_bulk_edge > 0


def test_one_step_tiny_sizes_run():
    # used to blame 'vectors' of hermite_alignments: rank-deficient features give NaN
    # alignments for the eigenvectors in F's null space
    for seed in range(3):
        run = spectra.one_step(n=1, d=1, N=1, rng=seed)
        assert run.alignments["ck1"].shape == (1, 1, 3)
        run = spectra.one_step(n=2, d=2, N=2, rng=seed)
        assert np.all(np.isnan(run.alignments["ck1"]) | (run.alignments["ck1"] <= 1 + 1e-12))


def test_allow_large_skips_the_memory_check(monkeypatch):
    from spikewise.spectra import _memory

    # a 1-byte budget refuses any run; allow_large=True runs it anyway
    monkeypatch.setattr(_memory, "physical_memory", lambda: 1.0)
    with pytest.raises(InvalidParameterError, match="GiB"):
        spectra.one_step(n=20, d=10, N=15, rng=0)
    run = spectra.one_step(n=20, d=10, N=15, rng=0, allow_large=True)
    assert run.params["n"] == 20


def test_memory_estimate_counts_the_big_arrays():
    from spikewise.spectra._memory import simulation_bytes

    parts = simulation_bytes(n=1000, d=500, N=800, dtype="float32")
    assert parts["inputs X"] == 8 * 1000 * 500
    assert parts["features n x N"] == 4 * 1000 * 800
    assert parts["weights d x N"] == 4 * 500 * 800 * 3
    assert parts["Gram matrix"] == 8 * 800**2


def test_hermite_exact_zeros_by_symmetry():
    for name, zero in [("tanh", [0, 2, 4, 6]), ("erf", [0, 2, 4, 6]), ("sin", [0, 2, 4, 6]),
                       ("relu", [3, 5, 7]), ("gelu", [3, 5, 7]), ("softplus", [3, 5, 7]),
                       ("sigmoid", [2, 4, 6])]:
        mu = sw.get_activation(name).hermite(7)
        assert np.all(mu[zero] == 0.0), (name, mu)
        others = np.setdiff1d(np.arange(8), zero)
        assert np.all(mu[others] != 0.0), (name, mu)
    mu = sw.Activation.from_callable(np.abs).hermite(5)
    assert np.all(mu[[1, 3, 5]] == 0.0) and np.all(mu[[0, 2, 4]] != 0.0)
    # no symmetry: nothing is zeroed
    assert np.all(sw.Activation.from_callable(lambda x: np.exp(x / 3)).hermite(6) > 0)


# --------------------------------------------------------------------------------------------
# the scipy.stats-like surface of the laws
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: MarchenkoPastur(ratio=0.5),
    lambda: MarchenkoPastur(ratio=2.0, scale=3.0),
    lambda: MarchenkoPastur(ratio=0.5).sqrt(),
    lambda: solvers.conjugate_kernel_law("tanh", psi=2.0, phi=1.5),
])
def test_scipy_names(make):
    law = make()
    x = np.linspace(law.lower - 0.5, law.upper + 0.5, 41)
    np.testing.assert_allclose(law.sf(x), 1.0 - law.cdf(x), atol=1e-15)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(law.logpdf(x), np.log(law.pdf(x)))
    np.testing.assert_array_equal(law.rvs(7, rng=3), law.sample(7, rng=3))
    # support: the intervals as a list (as before) and, called, the endpoints as in scipy
    assert isinstance(law.support, list) and law.support[0][0] <= law.support[-1][1]
    assert law.support() == (law.lower, law.upper)


# --------------------------------------------------------------------------------------------
# the command line: one line and a non-zero exit, never a traceback or a stray folder
# --------------------------------------------------------------------------------------------
def _cli_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code != 0
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_demo_refuses_a_non_image_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = _cli_error(["demo", "--out", "fig.txt", "--d", "40"], capsys)
    assert "'out'" in err and ".png" in err
    assert not (tmp_path / "fig.txt").exists()


def test_demo_out_that_cannot_be_created(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    err = _cli_error(["demo", "--out", str(blocker / "sub"), "--d", "40"], capsys)
    assert "'out'" in err


def test_demo_psi_too_small_names_psi(tmp_path, capsys):
    err = _cli_error(["demo", "--out", str(tmp_path), "--psi", "1e-6"], capsys)
    assert "'psi' parameter of spikewise demo" in err and "critical_learning_rate" not in err


def test_demo_huge_size_refused_and_memory_error_is_one_line(tmp_path, capsys, monkeypatch):
    err = _cli_error(["demo", "--out", str(tmp_path), "--d", "200000"], capsys)
    assert "GiB" in err and "allow_large" in err

    import spikewise._demo as demo

    def boom(**kwargs):
        raise MemoryError("Unable to allocate 745. GiB")

    monkeypatch.setattr(demo, "run_demo", boom)
    err = _cli_error(["demo", "--out", str(tmp_path), "--force"], capsys)
    assert "out of memory" in err


# --------------------------------------------------------------------------------------------
# every law of the public API against the same bad calls
# --------------------------------------------------------------------------------------------
LAWS = {
    "MarchenkoPastur": lambda: MarchenkoPastur(ratio=0.5, scale=2.0),
    "MarchenkoPastur_atom": lambda: MarchenkoPastur(ratio=3.0),
    "GeneralizedMarchenkoPastur": lambda: solvers.GeneralizedMarchenkoPastur(
        ratio=0.3, population=[1.0, 3.0]),
    "ConjugateKernelLaw": lambda: solvers.conjugate_kernel_law("tanh", psi=2.0, phi=1.5),
    "SqrtLaw": lambda: MarchenkoPastur(ratio=0.5).sqrt(),
    "AffineLaw": lambda: MarchenkoPastur(ratio=0.5).affine(-2.0, 1.0),
    "GramFlipLaw": lambda: solvers.gram_flip(MarchenkoPastur(ratio=2.0), ratio=2.0),
}
LAWS = {name: functools.cache(make) for name, make in LAWS.items()}  # each built once
BAD_CALLS = {
    "pdf_text": (lambda law: law.pdf("x"), "'x'"),
    "pdf_nan": (lambda law: law.pdf([1.0, np.nan]), "'x'"),
    "cdf_nan": (lambda law: law.cdf(np.nan), "'x'"),
    "sf_nan": (lambda law: law.sf(np.nan), "'x'"),
    "logpdf_nan": (lambda law: law.logpdf(np.nan), "'x'"),
    "ppf_above_one": (lambda law: law.ppf(1.5), "'q'"),
    "ppf_nan": (lambda law: law.ppf(np.nan), "'q'"),
    "moment_negative": (lambda law: law.moment(-1), "'k'"),
    "moment_fraction": (lambda law: law.moment(1.5), "'k'"),
    "sample_negative_size": (lambda law: law.sample(-3), "'size'"),
    "rvs_bad_rng": (lambda law: law.rvs(3, rng="seed"), "'rng'"),
    "stieltjes_nan": (lambda law: law.stieltjes(np.nan + 1j), "'z'"),
}


@pytest.mark.parametrize("call", list(BAD_CALLS))
@pytest.mark.parametrize("law", list(LAWS))
def test_every_law_names_the_bad_argument(law, call):
    func, word = BAD_CALLS[call]
    with pytest.raises(InvalidParameterError, match=word):
        func(LAWS[law]())


@pytest.mark.parametrize("law", list(LAWS))
def test_every_law_keeps_mass_one_and_hits_its_ends(law):
    law = LAWS[law]()
    lo, hi = law.support()
    assert law.cdf(hi) == pytest.approx(1.0, abs=1e-12) and law.sf(hi) <= 1e-12
    assert law.ppf(1.0) == hi and law.ppf(0.0) == lo
