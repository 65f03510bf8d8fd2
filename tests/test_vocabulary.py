"""One vocabulary (issue 10): renamed keywords, Sizes, step schedules, experiment -> theory."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spikewise import solvers
from spikewise._validation import InvalidParameterError, renamed_keywords
from spikewise.conventions import Sizes, Step, StepSchedule, learning_rate
from spikewise.spectra import experiment
from spikewise.spectra.sampling import (
    init_first_layer,
    init_second_layer,
    make_teacher,
    sample_dataset,
)
from spikewise.spectra.steps import gradient_step

SMALL = dict(n=60, d=20, N=30)


def _numbers(result):
    """The positions and edges of a spike prediction (first-call caches change the last bits)."""
    spikes = getattr(result, "spikes", ())
    return [float(getattr(sp, "position", np.nan)) for sp in spikes] + [float(result.edge)]


# --------------------------------------------------------------------------------------------
# renamed keywords
# --------------------------------------------------------------------------------------------
def test_renamed_keywords_helper():
    @renamed_keywords(old="new")
    def f(*, new=1):
        return new

    assert f(new=3) == 3
    with pytest.warns(DeprecationWarning, match="'old' parameter of .*f is renamed 'new'"):
        assert f(old=4) == 4
    with pytest.raises(InvalidParameterError, match="give only 'new'"):
        f(old=1, new=2)


@pytest.mark.parametrize(
    ("func", "new_kw", "old_kw"),
    [
        (solvers.one_step_spike,
         dict(activation="tanh", teacher="tanh", second_layer="rademacher"),
         dict(sigma="tanh", teacher="tanh", init="rademacher")),
        (solvers.critical_learning_rate,
         dict(activation="tanh", teacher="relu", second_layer="constant"),
         dict(sigma="tanh", teacher="relu", init="constant")),
    ],
)
def test_one_step_theory_old_names_still_work(func, new_kw, old_kw):
    common = dict(psi=2.0, phi=1.5, n=400)
    if func is solvers.one_step_spike:
        common["eta"] = 3.0
    new = func(**new_kw, **common)
    with pytest.warns(DeprecationWarning):
        old = func(**old_kw, **common)
    assert repr(new) == repr(old)


def test_multi_and_two_step_old_names_still_work():
    kw = dict(n=60, d=30, N=40, n_quad=12, k_max=3, max_spikes=2)
    new = solvers.visible_spikes("relu", "he1", eta0=1.0, alpha=0.3, second_layer="constant",
                                 **kw)
    with pytest.warns(DeprecationWarning) as record:
        old = solvers.visible_spikes(sigma="relu", teacher="he1", eta0=1.0, alpha=0.3,
                                     a_init="constant", **kw)
    assert {str(w.message).split("'")[1] for w in record} == {"sigma", "a_init"}
    np.testing.assert_allclose(_numbers(new), _numbers(old), rtol=1e-12)
    assert new.params["second_layer"] == "constant" and new.params["activation"] == "relu"
    kw2 = dict(n=60, d=30, N=40, n_quad=10, k_max=3, max_spikes=2)
    new2 = solvers.two_step_spikes("relu", "he1", eta0=1.0, alpha=0.2, eta0_2=1.0, alpha_2=0.3,
                                   **kw2)
    with pytest.warns(DeprecationWarning) as record:
        old2 = solvers.two_step_spikes("relu", "he1", eta0_1=1.0, alpha1=0.2, eta0_2=1.0,
                                       alpha2=0.3, **kw2)
    assert {str(w.message).split("'")[1] for w in record} == {"eta0_1", "alpha1", "alpha2"}
    np.testing.assert_allclose(_numbers(new2), _numbers(old2), rtol=1e-12)
    assert new2.params == old2.params


def test_covariance_outliers_spikes_keyword():
    new = solvers.covariance_outliers(spikes=[4.0], ratio=0.5)
    with pytest.warns(DeprecationWarning, match="'alpha' parameter"):
        old = solvers.covariance_outliers(alpha=[4.0], ratio=0.5)
    np.testing.assert_array_equal(new.positions, old.positions)
    # Baik-Ben Arous-Peche: (1 + l)(1 + gamma / l) with l = 3
    assert new.positions[0] == pytest.approx(4.0 * (1 + 0.5 / 3), rel=1e-12)


def test_experiment_old_names_same_arrays():
    new = experiment.one_step(**SMALL, teacher="tanh", first_layer="unit", rng=3, k_top=0)
    with pytest.warns(DeprecationWarning):
        old = experiment.one_step(**SMALL, target="tanh", init="unit", rng=3, k_top=0)
    np.testing.assert_array_equal(new.W1, old.W1)
    assert new.params == old.params
    assert new.params["teacher"] == "tanh" and new.params["first_layer"] == "unit"


@pytest.mark.parametrize(
    "func, args, new_kw, old_kw, value",
    [(make_teacher, (20,), "teacher", "target", "tanh"),
     (init_first_layer, (20, 15), "first_layer", "init", "unit"),
     (init_second_layer, (15,), "second_layer", "kind", "rademacher")],
)
def test_sampling_old_names_same_draws(func, args, new_kw, old_kw, value):
    new = func(*args, **{new_kw: value}, rng=4)
    with pytest.warns(DeprecationWarning, match=f"'{old_kw}' parameter"):
        old = func(*args, **{old_kw: value}, rng=4)
    if func is make_teacher:
        np.testing.assert_array_equal(new.directions, old.directions)
        assert new.params == old.params and new.params["teacher"] == "tanh"
    else:
        np.testing.assert_array_equal(new, old)


# --------------------------------------------------------------------------------------------
# Sizes and schedules
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "given",
    [dict(n=400, d=200, N=300), dict(n=400, psi=2.0, phi=1.5), dict(d=200, psi=2.0, phi=1.5),
     dict(N=300, psi=2.0, phi=1.5), dict(n=400, d=200, phi=1.5), dict(n=400, N=300, psi=2.0)],
)
def test_sizes_from_any_consistent_subset(given):
    s = Sizes.from_any(**given)
    assert (s.n, s.d, s.N, s.psi, s.phi) == pytest.approx((400, 200, 300, 2.0, 1.5), rel=1e-15)


def test_sizes_ratios_only_and_errors():
    s = Sizes.from_any(psi=0.5, phi=2.0)
    assert (s.n, s.d, s.N) == (None, None, None)
    with pytest.raises(InvalidParameterError, match="must determine psi"):
        Sizes.from_any(n=10, N=20)
    with pytest.raises(InvalidParameterError, match="'psi' parameter of Sizes must equal"):
        Sizes.from_any(n=400, d=200, psi=3.0, phi=1.0)
    with pytest.raises(InvalidParameterError, match="'N' parameter"):
        Sizes.from_any(n=4, d=2, N=-1)



def test_sizes_integers_rounding():
    """The rounding rule of the simulations (ties to even, clipped at min_*), with n from N
    computed as psi N / phi (not psi times the rounded d): the rules the sweeps and
    ``spike_onset_width`` used before they went through Sizes."""
    assert Sizes.integers(d=10, psi=2.25, phi=0.05) == Sizes(
        psi=2.2, phi=0.1, n=22, d=10, N=1)  # 22.5 -> 22 (to even); 0.5 -> 0 -> min_N = 1
    s = Sizes.integers(d=40, n=55, phi=1.25)
    assert (s.n, s.d, s.N) == (55, 40, 50) and all(isinstance(v, int) for v in (s.n, s.d, s.N))
    # from N: 0.7 * 15 / 7 = 1.5 -> 2 (to even), while 0.7 * (15 / 7) = 1.4999999999999998 -> 1
    s = Sizes.integers(N=15.2, psi=0.7, phi=7.0)
    assert (s.n, s.d, s.N) == (2, 2, 15)
    rng = np.random.default_rng(0)
    for N, psi, phi in zip(rng.uniform(2, 5000, 200), rng.uniform(0.1, 4, 200),
                           rng.uniform(0.1, 4, 200), strict=True):
        s = Sizes.integers(N=N, psi=psi, phi=phi, min_d=2)
        Ni = int(round(N))
        assert (s.n, s.d, s.N) == (max(round(psi * Ni / phi), 1), max(round(Ni / phi), 2), Ni)
    with pytest.raises(InvalidParameterError, match="'psi' parameter of f is needed for n"):
        Sizes.integers(d=10, phi=1.0, owner="f")
    with pytest.raises(InvalidParameterError, match="must include 'd' or 'N'"):
        Sizes.integers(psi=1.0, phi=1.0)
    with pytest.raises(InvalidParameterError, match="'phi' parameter"):
        Sizes.integers(d=10, psi=1.0, phi=-1.0)

def test_step_schedule():
    s = StepSchedule((Step(2.0, 0.25), Step(0.5, 0.0, "reuse")))
    assert s.learning_rates(16) == (learning_rate(2.0, N=16, alpha=0.25), 0.5) == (4.0, 0.5)
    assert len(StepSchedule.repeat(4, eta0=1.0)) == 4
    with pytest.raises(InvalidParameterError, match="'batch' parameter of Step"):
        Step(1.0, 0.0, "same")
    with pytest.raises(InvalidParameterError, match="'eta0' parameter of Step"):
        Step(-1.0)
    with pytest.raises(InvalidParameterError, match="non-empty sequence of Step"):
        StepSchedule(())
    with pytest.raises(InvalidParameterError, match="'schedule' parameter of train"):
        experiment.train([(1.0, 0.0)], **SMALL)


# --------------------------------------------------------------------------------------------
# protocols: the schedule drives the simulator
# --------------------------------------------------------------------------------------------
def _same(r1, r2):
    assert r1.params == r2.params
    assert sorted(r1.weights) == sorted(r2.weights)
    for k in r1.weights:
        np.testing.assert_array_equal(r1.weights[k], r2.weights[k])
    for k in r1.spectra:
        np.testing.assert_array_equal(r1.spectra[k].values, r2.spectra[k].values)
    for k in r1.alignments:
        np.testing.assert_array_equal(r1.alignments[k], r2.alignments[k])


def test_one_and_two_step_are_schedules():
    kw = dict(**SMALL, activation="tanh", teacher="relu", rng=7, k_top=2)
    _same(experiment.one_step(eta0=2.0, alpha=0.1, **kw),
          experiment.train(Step(2.0, 0.1), spectra=experiment._SPECTRA_ONE, **kw))
    sched = StepSchedule((Step(1.0, 0.2), Step(1.5, 0.1, "reuse")))
    _same(experiment.two_step(eta0=1.0, alpha=0.2, eta0_2=1.5, alpha_2=0.1, batch="reuse", **kw),
          experiment.train(sched, **kw))


def test_three_steps_match_successive_gradient_steps():
    """T = 3 (fresh, reuse, fresh) against three calls of ``gradient_step`` on the same draw."""
    sched = StepSchedule((Step(1.0, 0.1), Step(0.5, 0.0, "reuse"), Step(0.8, 0.0, "fresh")))
    r = experiment.train(sched, **SMALL, activation="tanh", teacher="relu", noise=0.1,
                         rng=11, k_top=1)
    assert sorted(r.spectra) == ["W0", "W1", "W2", "W3", "ck0", "ck1", "ck2", "ck3"]
    assert r.params["batch"] == "reuse" and r.params["batch_3"] == "fresh"
    gen = np.random.default_rng(np.random.SeedSequence(11))
    teacher = make_teacher(SMALL["d"], teacher="relu", noise=0.1, rng=gen)
    X, y = sample_dataset(SMALL["n"], teacher, rng=gen)
    W = init_first_layer(SMALL["d"], SMALL["N"], rng=gen)
    a = init_second_layer(SMALL["N"], rng=gen)
    batches = [(X, y), (X, y), sample_dataset(SMALL["n"], teacher, rng=gen)]
    for t, (st, (Xb, yb)) in enumerate(zip(sched, batches, strict=True), start=1):
        W = gradient_step(Xb, yb, W=W, a=a, activation="tanh", eta0=st.eta0,
                          alpha=st.alpha).W
        np.testing.assert_allclose(r.weights[f"W{t}"], W, rtol=0, atol=1e-13)
    assert r.etas == sched.learning_rates(SMALL["N"])


def test_stage_times_context_manager():
    with experiment.stage_times() as times:
        experiment.one_step(**SMALL, rng=0, k_top=1)
    assert {"sample", "GEMM X W", "spike"} <= set(times)
    assert all(t >= 0.0 for t in times.values())
    # outside the block nothing is recorded
    before = dict(times)
    experiment.one_step(**SMALL, rng=0, k_top=1)
    assert times == before


# --------------------------------------------------------------------------------------------
# experiment -> theory round trip
# --------------------------------------------------------------------------------------------
def test_theory_params_round_trip_one_step():
    run = experiment.one_step(n=200, d=100, N=150, activation="tanh", teacher="tanh",
                              eta0=6.0, noise=0.1, second_layer="rademacher", rng=0, k_top=0,
                              spectra=("W1",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated keyword in the round trip
        pred = solvers.one_step_spike(**run.theory_params(solvers.one_step_spike))
        eta_c = solvers.critical_learning_rate(
            **run.theory_params(solvers.critical_learning_rate))
    by_hand = solvers.one_step_spike("tanh", "tanh", psi=2.0, phi=1.5, eta=6.0, noise=0.1,
                                     n=200, second_layer="rademacher")
    assert repr(pred) == repr(by_hand)
    assert eta_c == solvers.critical_learning_rate("tanh", "tanh", psi=2.0, phi=1.5,
                                                   noise=0.1, n=200,
                                                   second_layer="rademacher")


def test_theory_params_round_trip_multi_and_two_step():
    run = experiment.one_step(**SMALL, activation="relu", teacher="he1", eta0=1.0, alpha=0.3,
                              rng=0, k_top=0, spectra=())
    kw = dict(n_quad=12, k_max=3, max_spikes=2)
    pred = solvers.visible_spikes(**run.theory_params(solvers.visible_spikes), **kw)
    by_hand = solvers.visible_spikes("relu", "he1", n=60, d=20, N=30, eta0=1.0, alpha=0.3, **kw)
    np.testing.assert_allclose(_numbers(pred), _numbers(by_hand), rtol=1e-12)
    assert pred.params == by_hand.params
    run2 = experiment.two_step(**SMALL, activation="relu", teacher="he1", eta0=1.0, alpha=0.2,
                               eta0_2=1.0, alpha_2=0.3, batch="reuse", rng=0, k_top=0,
                               spectra=())
    kw2 = dict(n_quad=10, k_max=3, max_spikes=2)
    pred2 = solvers.two_step_spikes(**run2.theory_params(solvers.two_step_spikes), **kw2)
    by_hand2 = solvers.two_step_spikes("relu", "he1", n=60, d=20, N=30, eta0=1.0, alpha=0.2,
                                       eta0_2=1.0, alpha_2=0.3, batch="reuse", **kw2)
    np.testing.assert_allclose(_numbers(pred2), _numbers(by_hand2), rtol=1e-12)
    assert pred2.params == by_hand2.params


def test_theory_params_keeps_user_activations():
    from spikewise.activations import Activation

    act = Activation.from_callable(np.tanh, name="mytanh")
    run = experiment.one_step(**SMALL, activation=act, teacher="tanh", rng=0, k_top=0,
                              spectra=())
    p = run.theory_params(solvers.one_step_spike, realized=True)
    assert p["activation"] is act
    np.testing.assert_array_equal(p["W0"], run.W0)
    assert solvers.one_step_spike(**p).finite is not None


def test_old_module_name_one_step_theory():
    """``spikewise.solvers.one_step`` (clashing with ``spectra.one_step``) still imports."""
    from spikewise.solvers.one_step import one_step_spike

    from spikewise.solvers import one_step_theory

    assert one_step_spike is one_step_theory.one_step_spike
    with pytest.warns(DeprecationWarning, match="one_step_theory"):
        assert solvers.one_step is one_step_theory


def test_theories_take_the_schedule_of_the_run():
    sched = StepSchedule((Step(1.0, 0.2), Step(1.0, 0.3, "reuse")))
    run = experiment.train(sched, **SMALL, activation="relu", teacher="he1", rng=0, k_top=0,
                           spectra=())
    assert run.schedule == sched
    kw = dict(n=60, d=20, N=30, n_quad=10, k_max=3, max_spikes=2)
    by_schedule = solvers.two_step_spikes("relu", "he1", schedule=run.schedule, **kw)
    by_keywords = solvers.two_step_spikes("relu", "he1", eta0=1.0, alpha=0.2, eta0_2=1.0,
                                          alpha_2=0.3, batch="reuse", **kw)
    np.testing.assert_allclose(_numbers(by_schedule), _numbers(by_keywords), rtol=1e-12)
    assert by_schedule.params == by_keywords.params
    one = solvers.visible_spikes("relu", "he1", schedule=Step(1.0, 0.3), n_quad=12, k_max=3,
                                 n=60, d=20, N=30)
    assert one.params["eta0"] == 1.0 and one.params["alpha"] == 0.3
    with pytest.raises(InvalidParameterError, match="replaces 'eta0'"):
        solvers.two_step_spikes("relu", "he1", schedule=sched, eta0=1.0, **kw)
    with pytest.raises(InvalidParameterError, match="StepSchedule of 2 step"):
        solvers.two_step_spikes("relu", "he1", schedule=Step(1.0), **kw)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of visible_spikes"):
        solvers.visible_spikes("relu", "he1", eta0=1.0, n=60, d=20, N=30)
