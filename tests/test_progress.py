"""Progress bars: one helper for sweeps, multi-seed runs and long simulations; quiet in tests."""

import io
import sys

import numpy as np
import pytest

from spikewise._progress import show_progress
from spikewise._validation import InvalidParameterError
from spikewise.conventions import Step, StepSchedule
from spikewise.spectra import one_step, repeat, train

SMALL = {"n": 120, "d": 60, "N": 90, "activation": "tanh", "teacher": "tanh", "eta0": 4.0,
         "spectra": ("W1",), "k_top": 1}


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_default_is_off_under_pytest_and_on_in_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert show_progress(None, "x") is False  # PYTEST_CURRENT_TEST is set
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert show_progress(None, "x") is True
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file, not a terminal
    assert show_progress(None, "x") is False
    assert show_progress(True, "x") is True and show_progress(False, "x") is False


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_bad_progress_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="'progress' parameter of one_step"):
        one_step(**SMALL, progress=bad)
    with pytest.raises(InvalidParameterError, match="'progress' parameter of repeat"):
        repeat("one_step", 1, progress=bad, **SMALL)


def test_stage_bar_on_off_and_same_result(capsys):
    quiet = one_step(**SMALL, rng=3)
    assert capsys.readouterr().err == ""  # off by default under pytest
    shown = one_step(**SMALL, rng=3, progress=True)
    err = capsys.readouterr().err
    assert "one_step" in err and "3/3" in err  # sampling, the step, the end
    hidden = one_step(**SMALL, rng=3, progress=False)
    assert capsys.readouterr().err == ""
    for r in (shown, hidden):
        np.testing.assert_array_equal(r.weights["W1"], quiet.weights["W1"])
        np.testing.assert_array_equal(r.spectra["W1"].values, quiet.spectra["W1"].values)


def test_train_bar_counts_the_steps(capsys):
    kw = {k: v for k, v in SMALL.items() if k != "eta0"}
    train(StepSchedule((Step(4.0), Step(1.0, batch="reuse"))), **kw, rng=0, progress=True)
    assert "4/4" in capsys.readouterr().err  # sampling, two steps, the end


def test_repeat_seeds_like_a_sweep_and_shows_a_bar(capsys):
    runs = repeat("one_step", 3, base_seed=5, **SMALL)
    assert capsys.readouterr().err == ""
    assert len(runs) == 3
    for i, r in enumerate(runs):  # run i is seeded with SeedSequence(base_seed, spawn_key=(i,))
        alone = one_step(**SMALL, rng=np.random.SeedSequence(5, spawn_key=(i,)))
        np.testing.assert_array_equal(r.weights["W1"], alone.weights["W1"])
    assert not np.array_equal(runs[0].weights["W0"], runs[1].weights["W0"])
    shown = repeat(one_step, 3, base_seed=5, progress=True, **SMALL)
    err = capsys.readouterr().err
    assert "repeat" in err and "3/3" in err and "one_step" not in err  # inner bars hidden
    for a, b in zip(runs, shown, strict=True):
        np.testing.assert_array_equal(a.weights["W1"], b.weights["W1"])


def test_repeat_matches_the_sweep_seeding():
    from spikewise.sweep import point_seed

    def draw(*, rng, scale=1.0):
        return scale * np.random.default_rng(rng).standard_normal()

    got = repeat(draw, 4, base_seed=2, scale=3.0)
    want = [3.0 * np.random.default_rng(point_seed(i, base_seed=2)).standard_normal()
            for i in range(4)]
    assert got == want


@pytest.mark.parametrize("args, kwargs, match", [
    (("nothing", 2), {}, "'experiment' parameter of repeat"),
    ((42, 2), {}, "'experiment' parameter of repeat"),
    (("one_step", 0), {}, "'seeds' parameter of repeat"),
    (("one_step", 2.5), {}, "'seeds' parameter of repeat"),
    (("one_step", 2), {"rng": 1}, "must not include 'rng'"),
    (("one_step", 2), {"base_seed": -1}, "'base_seed' parameter of repeat"),
])
def test_repeat_bad_input(args, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        repeat(*args, **kwargs)
