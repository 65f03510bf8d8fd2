"""Sweeps on dask.distributed: seeding, bit-identical results, killed workers, resumption.

Every sweep here is compared with plain in-process calls of the same function with the
documented seeds ``SeedSequence(base_seed, spawn_key=(flat index,))``, so the tests check
the seeding contract independently of the sweep's own bookkeeping. The worker functions
live in this module; the spawned workers import it (pytest puts ``tests/`` on ``sys.path``).
"""

import os
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")
xr = pytest.importorskip("xarray")

from distributed import Client, LocalCluster  # noqa: E402

from spikewise import InvalidParameterError  # noqa: E402
from spikewise.spectra import thread_limits  # noqa: E402
from spikewise.sweep import SweepError, one_step_summary, point_seed, sweep  # noqa: E402

GRID = {"x": [0.0, 1.0, 2.0], "kind": ["a", "b"]}
SEEDS = 2


def noisy(*, rng, x, kind, scale=1.0):
    """A cheap point: a scalar and a fixed-length vector drawn from the point's seed."""
    g = np.random.default_rng(rng)
    shift = 10.0 if kind == "b" else 0.0
    return {"value": x + shift + scale * g.standard_normal(), "vec": g.standard_normal(3)}


def _log_call(log_dir, x, kind):
    Path(log_dir, f"{x}-{kind}-{uuid.uuid4().hex}").touch()


def dies_once(*, rng, x, kind, marker, log_dir):
    """Kills its worker process the first time it runs at x == 1, kind == 'b'."""
    _log_call(log_dir, x, kind)
    if x == 1.0 and kind == "b" and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    time.sleep(0.05)
    return noisy(rng=rng, x=x, kind=kind)


def fails_while_flagged(*, rng, x, kind, flag, log_dir):
    """Raises at x == 2 while the flag file exists (an interrupted first run)."""
    _log_call(log_dir, x, kind)
    if x == 2.0 and os.path.exists(flag):
        raise RuntimeError("interrupted")
    return noisy(rng=rng, x=x, kind=kind)


def wrong_shape(*, rng, x):
    return {"v": np.zeros(1 + int(x))}


def named_like_an_axis(*, rng, x):
    return {"x": 1.0, "v": 2.0}


def _calls(log_dir):
    return sorted(p.name.rsplit("-", 1)[0] for p in Path(log_dir).iterdir())


def _direct(func, grid, seeds, base_seed=0, **fixed):
    """Plain loop over the points with the documented seeds (the reference)."""
    names = list(grid)
    shape = tuple(len(v) for v in grid.values()) + (seeds,)
    out = {}
    for i in range(int(np.prod(shape))):
        index = np.unravel_index(i, shape)
        point = {n: grid[n][k] for n, k in zip(names, index[:-1], strict=True)}
        with thread_limits(1):
            res = func(rng=point_seed(i, base_seed=base_seed), **fixed, **point)
        for key, value in res.items():
            value = np.asarray(value)
            out.setdefault(key, np.empty(shape + value.shape, dtype=value.dtype))[index] = value
    return out


def _assert_identical(ds, reference):
    assert bool(ds["done"].all())
    for key, value in reference.items():
        np.testing.assert_array_equal(ds[key].values, value, err_msg=key)


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as cl:
        yield cl


def test_point_seed_is_the_documented_spawn():
    a = np.random.default_rng(point_seed(5, base_seed=7)).random(4)
    b = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(5,))).random(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.random.default_rng(point_seed(6, base_seed=7)).random(4))


def test_one_step_bit_identical_on_one_and_two_workers(tmp_path, client):
    fixed = {"d": 30, "psi": 2.0, "phi": 1.5, "activation": "tanh", "teacher": "tanh"}
    grid = {"eta0": [0.5, 3.0]}
    one = sweep("one_step", grid, seeds=2, fixed=fixed, store=tmp_path / "one.zarr",
                n_workers=1, progress=False)
    two = sweep("one_step", grid, seeds=2, fixed=fixed, client=client, progress=False)
    reference = _direct(one_step_summary, grid, 2, **fixed)
    assert set(reference) == {"spike_value", "spike_overlap", "W1_top", "W1_overlap"}
    _assert_identical(one, reference)
    _assert_identical(two, reference)
    assert one["W1_top"].dims == ("eta0", "seed")
    np.testing.assert_array_equal(one["eta0"].values, grid["eta0"])
    # a larger step moves the top singular value of W1 out of the bulk, at every seed
    assert np.all(one["W1_top"].sel(eta0=3.0) > one["W1_top"].sel(eta0=0.5))


def test_killed_worker_loses_nothing_then_resume_skips(tmp_path, client):
    log = tmp_path / "log"
    log.mkdir()
    fixed = {"marker": str(tmp_path / "died"), "log_dir": str(log)}
    store = tmp_path / "s.zarr"
    ds = sweep(dies_once, GRID, seeds=SEEDS, fixed=fixed, store=store, client=client,
               progress=False)
    assert (tmp_path / "died").exists()  # a worker really died mid-sweep
    _assert_identical(ds, _direct(noisy, GRID, SEEDS))
    calls = _calls(log)
    assert calls.count("1.0-b") >= 3  # both seeds, and the task the worker died in, rerun
    assert len(calls) >= 12
    # rerunning the same call computes nothing and returns the same data
    again = sweep(dies_once, GRID, seeds=SEEDS, fixed=fixed, store=store, client=client,
                  progress=False)
    assert _calls(log) == calls
    _assert_identical(again, _direct(noisy, GRID, SEEDS))


def test_interrupted_sweep_resumes_to_identical_data(tmp_path, client):
    log = tmp_path / "log"
    log.mkdir()
    flag = tmp_path / "flag"
    flag.touch()
    fixed = {"flag": str(flag), "log_dir": str(log)}
    store = tmp_path / "s.zarr"
    with pytest.raises(SweepError, match="4 of 12 points") as info:
        sweep(fails_while_flagged, GRID, seeds=SEEDS, fixed=fixed, store=store, client=client,
              retries=0, progress=False)
    failed = sorted((p["x"], p["kind"], seed) for p, seed, _ in info.value.failures)
    assert failed == [(2.0, "a", 0), (2.0, "a", 1), (2.0, "b", 0), (2.0, "b", 1)]
    assert all("interrupted" in str(e) for _, _, e in info.value.failures)
    partial = xr.open_dataset(store, engine="zarr", consolidated=False)
    assert int(partial["done"].sum()) == 8
    assert not bool(partial["done"].sel(x=2.0).any())
    assert np.isnan(partial["value"].sel(x=2.0)).all()
    flag.unlink()
    first = _calls(log)
    ds = sweep(fails_while_flagged, GRID, seeds=SEEDS, fixed=fixed, store=store, client=client,
               progress=False)
    # only the 4 missing points ran again
    assert Counter(_calls(log)) - Counter(first) == Counter({"2.0-a": 2, "2.0-b": 2})
    _assert_identical(ds, _direct(noisy, GRID, SEEDS))


def test_memory_store_and_base_seed(client):
    ds = sweep(noisy, {"x": [1.0], "kind": "a"}, seeds=3, base_seed=11, client=client,
               progress=False)
    _assert_identical(ds, _direct(noisy, {"x": [1.0], "kind": ["a"]}, 3, base_seed=11))
    assert ds["vec"].dims == ("x", "kind", "seed", "vec_dim0")
    other = sweep(noisy, {"x": [1.0], "kind": "a"}, seeds=3, base_seed=12, client=client,
                  progress=False)
    assert not np.array_equal(ds["value"].values, other["value"].values)


def test_point_chunks_bound_points_and_bytes():
    from spikewise._sweep_store import point_chunks

    assert point_chunks((100, 25, 4), 8) == (10, 25, 4)  # 1000 points of 8 bytes
    assert point_chunks((3, 2, 2), 8) == (3, 2, 2)
    assert point_chunks((10, 4), 8000) == (2, 4)  # 8 points of 8 kB = 64 kB
    assert point_chunks((5, 3), 10**6) == (1, 1)  # a point larger than the target


def test_empty_directory_becomes_the_store(tmp_path, client):
    store = tmp_path / "empty"
    store.mkdir()
    ds = sweep(noisy, GRID, seeds=1, store=store, client=client, progress=False)
    _assert_identical(ds, _direct(noisy, GRID, 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # nothing left aside
    assert (store / "done").is_dir()


def test_progress_bar_only_when_asked(client, capsys):
    grid = {"x": [0.0, 1.0], "kind": ["a"]}
    sweep(noisy, grid, client=client)  # default: no bar off a terminal
    assert "point" not in capsys.readouterr().err
    sweep(noisy, grid, client=client, progress=True)
    err = capsys.readouterr().err
    assert "sweep" in err and "2/2" in err


def test_store_of_another_sweep_is_refused(tmp_path, client):
    store = tmp_path / "s.zarr"
    sweep(noisy, GRID, seeds=1, store=store, client=client, progress=False)
    for kwargs in ({"grid": {"x": [0.0, 1.0], "kind": ["a", "b"]}},
                   {"grid": GRID, "seeds": 2}, {"grid": GRID, "base_seed": 3},
                   {"grid": GRID, "fixed": {"scale": 2.0}}):
        with pytest.raises(InvalidParameterError, match="another sweep") as info:
            sweep(noisy, store=store, client=client, progress=False,
                  **{"seeds": 1, **kwargs})
        assert "refusing to mix" in str(info.value)
    with pytest.raises(InvalidParameterError, match="function"):
        sweep(dies_once, GRID, seeds=1, store=store, client=client, progress=False,
              fixed={"marker": "m", "log_dir": "l"})


def test_threaded_local_cluster_gives_the_same_data():
    ds = sweep(noisy, GRID, seeds=SEEDS, n_workers=2, processes=False, progress=False)
    _assert_identical(ds, _direct(noisy, GRID, SEEDS))


def test_inconsistent_outputs_are_refused(client):
    with pytest.raises(InvalidParameterError, match="same outputs"):
        sweep(wrong_shape, {"x": [0, 1]}, client=client, progress=False)
    with pytest.raises(InvalidParameterError, match=r"named unlike the sweep's axes.*\['x'\]"):
        sweep(named_like_an_axis, {"x": [0]}, client=client, progress=False)


@pytest.mark.parametrize("grid, match", [
    ({}, "non-empty mapping"),
    (None, "non-empty mapping"),
    ({"x": []}, "at least one value"),
    ({"x": [1.0, 1.0], "kind": ["a"]}, "distinct"),
    ({"x": [1.0, "a"], "kind": ["a"]}, "all numbers or all strings"),
    ({"seed": [1]}, r"identifiers other than \['seed', 'done', 'rng'\]"),
    ({"rng": [1]}, "identifiers other than"),
    ({"x": [1.0], "kind": ["a"], "bogus": [1]}, r"among \['kind', 'scale', 'x'\].*'bogus'"),
    ({"x": [float("nan")], "kind": ["a"]}, "finite"),
])
def test_bad_grids_are_refused_before_any_work(grid, match):
    with pytest.raises(InvalidParameterError, match=match):
        sweep(noisy, grid, progress=False)


def test_bad_parameters_are_refused_before_any_work(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"'eta'"):
        sweep("one_step", {"eta": [1.0]}, fixed={"d": 10}, progress=False)
    with pytest.raises(InvalidParameterError, match="one_step"):
        sweep("no_such_experiment", GRID, progress=False)
    with pytest.raises(InvalidParameterError, match="cannot be imported"):
        sweep("spikewise:no_such_function", GRID, progress=False)
    with pytest.raises(InvalidParameterError, match="'rng'"):
        sweep(lambda x: {"v": x}, {"x": [1]}, progress=False)
    with pytest.raises(InvalidParameterError, match="sets the seed"):
        sweep(noisy, GRID, fixed={"rng": 1}, progress=False)
    with pytest.raises(InvalidParameterError, match="both in 'grid' and in 'fixed'"):
        sweep(noisy, GRID, fixed={"x": 1.0}, progress=False)
    with pytest.raises(InvalidParameterError, match="'seeds'"):
        sweep(noisy, GRID, seeds=0, progress=False)
    with pytest.raises(InvalidParameterError, match="at most one of 'client' and 'scheduler'"):
        sweep(noisy, GRID, client=object(), scheduler="tcp://nowhere:1", progress=False)
    with pytest.raises(InvalidParameterError, match="'processes'"):
        sweep(noisy, GRID, processes="no", progress=False)
    with pytest.raises(InvalidParameterError, match="'progress'"):
        sweep(noisy, GRID, progress="yes")
    afile = tmp_path / "file.zarr"
    afile.write_text("not a directory")
    with pytest.raises(InvalidParameterError, match="which is a file"):
        sweep(noisy, GRID, store=afile, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParameterError, match="not a sweep store"):
        sweep(noisy, GRID, store=other, progress=False)
    assert (other / "notes.txt").read_text() == "mine"


def test_one_step_summary_sizes_from_ratios():
    a = one_step_summary(d=20, psi=2.0, phi=1.5, eta0=1.0, rng=0)
    b = one_step_summary(d=20, n=40, N=30, eta0=1.0, rng=0)
    assert a == b
    c = one_step_summary(d=20, n=40, N=30, eta0=1.0, spectra=("W1", "ck1"), n_top=3, rng=0)
    assert c["W1_top"].shape == (3,) and np.all(np.diff(c["W1_top"]) <= 0)
    assert c["W1_top"][0] == a["W1_top"]
    assert c["ck1_top"].shape == (3,)
    # a single spectrum may be named by a string (as the command line passes it)
    assert one_step_summary(d=20, n=40, N=30, eta0=1.0, spectra="W1", rng=0) == a
    with pytest.raises(InvalidParameterError, match="exactly one"):
        one_step_summary(d=20, n=40, psi=2.0, N=30, rng=0)
    with pytest.raises(InvalidParameterError, match="exactly one"):
        one_step_summary(d=20, N=30, rng=0)


def slow_noisy(*, rng, x, kind):
    time.sleep(0.3)
    return noisy(rng=rng, x=x, kind=kind)


@pytest.mark.slow
def test_killed_sweep_command_resumes_to_identical_data(tmp_path, client):
    """SIGKILL the whole ``spikewise sweep`` process group mid-sweep, then rerun it."""
    import signal
    import subprocess
    import sys

    store = tmp_path / "s.zarr"
    argv = [sys.executable, "-m", "spikewise.cli", "sweep", "--function",
            "test_sweep:slow_noisy", "--grid", "x=0,1,2", "--grid", "kind=a,b", "--seeds", "2",
            "--store", str(store), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), *os.environ.get("PYTHONPATH", "").split(os.pathsep)])}
    proc = subprocess.Popen(argv, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        done = 0
        while done < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:
                done = int(xr.open_dataset(store, engine="zarr", consolidated=False)
                           ["done"].sum())
            except Exception:  # the store is not created yet
                pass
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = int(xr.open_dataset(store, engine="zarr", consolidated=False)["done"].sum())
    assert 3 <= partial < 12
    grid = {"x": [0, 1, 2], "kind": ["a", "b"]}
    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "12 of 12 points done" in rerun.stdout
    _assert_identical(xr.open_dataset(store, engine="zarr", consolidated=False),
                      _direct(noisy, grid, 2))


@pytest.mark.slow
def test_reproduce_multiple_spikes_page_small(tmp_path, client):
    from spikewise._reproduce import reproduce

    (png,), ds = reproduce("07", size="small", out=tmp_path, client=client, progress=False)
    assert png.is_file()
    top = ds["ck1_top"].isel(seed=0)
    # the mean spike is far out at every alpha; the second value grows with the step
    assert top.shape == (7, 12)
    assert float(top.isel(alpha=-1, ck1_top_dim0=1)) > 2 * float(top.isel(alpha=0,
                                                                         ck1_top_dim0=1))
