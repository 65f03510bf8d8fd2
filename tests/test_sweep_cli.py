"""``spikewise sweep`` and ``spikewise reproduce``: options, spec files, resumption, errors.

The commands run on a module-scoped LocalCluster through ``--scheduler ADDRESS``, which also
exercises the real-cluster path; results are compared with plain in-process calls.
"""

import json

import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")
xr = pytest.importorskip("xarray")

from distributed import LocalCluster  # noqa: E402

from spikewise._sweep_cli import _grid_values  # noqa: E402
from spikewise.cli import main  # noqa: E402
from spikewise.spectra import thread_limits  # noqa: E402
from spikewise.sweep import one_step_summary, point_seed  # noqa: E402

FIXED = {"d": 24, "psi": 2.0, "phi": 1.5, "activation": "tanh", "teacher": "tanh"}


@pytest.fixture(scope="module")
def address():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def _open(path):
    return xr.open_dataset(path, engine="zarr", consolidated=False)


def test_grid_values_syntax():
    assert _grid_values("0.5:2:4") == [0.5, 1.0, 1.5, 2.0]
    assert _grid_values("1,2,x") == [1, 2, "x"]
    assert _grid_values("3:3:1") == [3]


def test_sweep_command_options_and_resume(tmp_path, address, capsys):
    store = tmp_path / "s.zarr"
    argv = ["sweep", "--grid", "eta0=0.5,4", "--seeds", "2", "--store", str(store),
            "--scheduler", address, "--base-seed", "3"]
    argv += [f"--fixed={k}={v}" for k, v in FIXED.items()]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "4 of 4 points done" in out.out
    assert "sweep:" not in out.err  # no progress bar when not on a terminal
    ds = _open(store)
    for i, (eta, seed) in enumerate([(0.5, 0), (0.5, 1), (4.0, 0), (4.0, 1)]):
        with thread_limits(1):
            ref = one_step_summary(eta0=eta, rng=point_seed(i, base_seed=3), **FIXED)
        for key, value in ref.items():
            assert ds[key].sel(eta0=eta, seed=seed).item() == value, key
    # the same command again: nothing to do, same data
    stamp = (store / "W1_top" / "zarr.json").stat().st_mtime_ns
    assert main(argv + ["--progress"]) == 0
    assert "4 of 4 points done" in capsys.readouterr().out
    assert (store / "W1_top" / "zarr.json").stat().st_mtime_ns == stamp
    xr.testing.assert_identical(_open(store).load(), ds.load())
    # another grid into the same store is refused
    argv[2] = "eta0=0.5,5"
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "another sweep" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_sweep_command_spec_file(tmp_path, address, capsys, suffix):
    store = tmp_path / "spec.zarr"
    spec = {"function": "one_step", "seeds": 1, "store": str(store),
            "grid": {"eta0": [1.0, 2.0]}, "fixed": FIXED}
    path = tmp_path / f"spec{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(spec))
    else:
        lines = ['function = "one_step"', "seeds = 1", f"store = {json.dumps(str(store))}",
                 "[grid]", "eta0 = [1.0, 2.0]", "[fixed]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in FIXED.items()]
        path.write_text("\n".join(lines) + "\n")
    # the command line overrides the file: three seeds
    assert main(["sweep", str(path), "--seeds", "3", "--scheduler", address]) == 0
    assert "6 of 6 points done" in capsys.readouterr().out
    ds = _open(store)
    assert ds["W1_top"].shape == (2, 3)
    assert json.loads(ds.attrs["spikewise_sweep"])["fixed"] == FIXED


@pytest.mark.parametrize("argv, match", [
    (["sweep", "--grid", "eta0", "--store", "x"], "NAME=VALUE"),
    (["sweep", "--grid", "eta0=1:2:x", "--store", "x"], "START:STOP:NUM"),
    (["sweep", "--grid", "eta0=1,2"], "'store'"),
    (["sweep", "--grid", "eta=1,2", "--fixed", "d=10", "--store", "x"], "'eta'"),
    (["sweep", "--store", "x"], "non-empty mapping"),
    (["sweep", "missing.toml", "--store", "x"], "spec file"),
    (["reproduce", "99"], "21_sweep"),
    (["reproduce", "01", "--examples", "nowhere"], "'examples'"),
    (["reproduce", "06", "--size", "huge"], "invalid choice"),
])
def test_bad_input_exits_with_a_clear_message(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert match in capsys.readouterr().err


def test_spec_file_with_unknown_keys_is_refused(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"grid": {"eta0": [1]}, "stores": "x"}))
    with pytest.raises(SystemExit):
        main(["sweep", str(path)])
    assert "'stores'" in capsys.readouterr().err


def test_store_that_is_a_file_is_refused(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--grid", "eta0=1", "--fixed", "d=10", "--store", str(afile)])
    assert info.value.code == 2
    assert "which is a file" in capsys.readouterr().err


def test_reproduce_bbp_page_small(tmp_path, address, capsys):
    argv = ["reproduce", "plot_06_bbp_transition.py", "--size", "small", "--out",
            str(tmp_path), "--scheduler", address]
    assert main(argv) == 0
    png = tmp_path / "06_bbp_transition_small.png"
    assert f"Wrote {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ds = _open(tmp_path / "06_bbp_transition_small.zarr")
    assert bool(ds["done"].all()) and ds["W1_top"].shape == (7, 2)
    # below the threshold no outlier: the overlap with beta is small; far above it, large
    overlap = ds["W1_overlap"].mean("seed")
    assert float(overlap.isel(eta0=0)) < 0.05
    assert float(overlap.isel(eta0=-1)) > 0.4
    # rerunning resumes (nothing left) and rewrites the figure
    png.unlink()
    assert main(argv) == 0
    assert png.is_file()
