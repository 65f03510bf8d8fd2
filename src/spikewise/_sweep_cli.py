"""The ``spikewise sweep`` and ``spikewise reproduce`` subcommands.

``spikewise sweep`` takes its grid from ``--grid NAME=VALUES`` options and/or a small TOML
or JSON spec file::

    function = "one_step"            # a registered experiment or "module:function"
    seeds = 4
    base_seed = 0
    store = "bbp.zarr"
    [grid]
    eta0 = [0.5, 1.0, 2.0, 4.0]
    [fixed]
    d = 400
    psi = 2.0
    phi = 1.5
    activation = "tanh"
    teacher = "tanh"

Options given on the command line override the file. Rerunning the same command resumes.
dask, xarray and zarr are imported only when a sweep runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikewise._cli_types import _positive_int
from spikewise._validation import InvalidParameterError

__all__ = ["add_parsers", "run"]


def _text_value(text: str):
    """A command-line value: int, float, true/false, or the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _grid_values(text: str):
    """``a,b,c`` (a list) or ``start:stop:num`` (``num`` evenly spaced values, ends included)."""
    parts = text.split(":")
    if len(parts) == 3:
        start, stop, num = (_text_value(p) for p in parts)
        if not (isinstance(num, int) and num >= 1 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (start, stop))):
            raise argparse.ArgumentTypeError(
                f"expected START:STOP:NUM with numbers and a positive integer NUM, got {text!r}")
        if num == 1:
            return [start]
        step = (stop - start) / (num - 1)
        return [round(start + k * step, 12) for k in range(num)]
    return [_text_value(v) for v in text.split(",") if v.strip()]


def _assignment(kind):
    def parse(text: str):
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
        if kind == "grid":
            return name.strip(), _grid_values(value)
        values = [_text_value(v) for v in value.split(",")]
        return name.strip(), values if len(values) > 1 else values[0]

    parse.__name__ = f"{kind} assignment"
    return parse


def add_parsers(sub) -> None:
    """Add ``sweep`` and ``reproduce`` to the subparsers ``sub`` of the ``spikewise`` parser."""
    from spikewise._reproduce import PAGES, SIZES
    from spikewise.sweep import EXPERIMENTS

    sw = sub.add_parser(
        "sweep",
        help="run an experiment over a grid of parameters x seeds on dask, into a zarr store",
        description=(
            "Run a function over a grid of parameters times seeds on dask.distributed (a "
            "LocalCluster, or --scheduler ADDRESS) and write the results point by point into "
            "an xarray/zarr store. Rerunning the same command resumes. Registered experiments: "
            + "; ".join(f"{k} ({e.description})" for k, e in EXPERIMENTS.items()) + "."
        ),
    )
    sw.add_argument("spec", nargs="?", type=Path, default=None,
                    help="a TOML or JSON file with function, grid, fixed, seeds, base_seed, store")
    sw.add_argument("--function", default=None,
                    help="registered experiment or module:function (default one_step)")
    sw.add_argument("--grid", action="append", type=_assignment("grid"), default=[],
                    metavar="NAME=VALUES",
                    help="a swept parameter: comma-separated values or START:STOP:NUM; repeat "
                         "for more axes")
    sw.add_argument("--fixed", action="append", type=_assignment("fixed"), default=[],
                    metavar="NAME=VALUE", help="a parameter held fixed; repeat for more")
    sw.add_argument("--seeds", type=_positive_int, default=None, help="seeds per point (1)")
    sw.add_argument("--base-seed", type=int, default=None, help="entropy of the seeds (0)")
    _add_run_options(sw, _positive_int)

    rp = sub.add_parser(
        "reproduce",
        help="regenerate the figures of a gallery page (01 to 21)",
        description=(
            "Regenerate the figures of a gallery page docs/examples/plot_NN_*.py as PNGs in "
            "--out. The pages that are sweeps run through spikewise sweep (on dask, into a "
            "zarr store in --out, so that rerunning resumes): "
            + "; ".join(f"{k} ({p.title})" for k, p in PAGES.items()) + ". Any other page "
            "runs as its script with SPIKEWISE_SIZE set to --size."
        ),
    )
    rp.add_argument("page", help="gallery page: its number (06), name (06_bbp_transition) or "
                                 "file name")
    rp.add_argument("--size", choices=SIZES, default="paper",
                    help="small (seconds), full (the docs' size) or paper (default)")
    rp.add_argument("--out", type=Path, default=Path("."), help="output folder (default .)")
    rp.add_argument("--examples", type=Path, default=None,
                    help="folder of the gallery scripts (default: docs/examples of the "
                         "source checkout, or $SPIKEWISE_EXAMPLES)")
    _add_run_options(rp, _positive_int)


def _add_run_options(parser, positive_int) -> None:
    parser.add_argument("--store", type=Path, default=None, help="zarr store (a directory)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running dask scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="LocalCluster worker processes (default 2)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="BLAS/Numba threads per task (default 1)")
    parser.add_argument("--retries", type=int, default=2,
                        help="reruns of a task that raised (default 2)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: when the output is a terminal)")


def _read_spec(path: Path) -> dict:
    if not path.is_file():
        raise InvalidParameterError(
            f"The spec file of spikewise sweep must be an existing TOML or JSON file. Got "
            f"{str(path)!r} instead.")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        spec = json.loads(text)
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            raise InvalidParameterError(
                "TOML spec files need Python >= 3.11; use a JSON spec file.") from None
        spec = tomllib.loads(text)
    allowed = {"function", "grid", "fixed", "seeds", "base_seed", "store"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise InvalidParameterError(
            f"The keys of the spec file of spikewise sweep must be among {sorted(allowed)}. "
            f"Got {unknown} in {str(path)!r} instead.")
    return spec


def _sweep_command(args):
    from spikewise.sweep import sweep

    spec = {} if args.spec is None else _read_spec(args.spec)
    grid = dict(spec.get("grid", {}))
    grid.update(dict(args.grid))
    fixed = dict(spec.get("fixed", {}))
    fixed.update(dict(args.fixed))
    store = args.store if args.store is not None else spec.get("store")
    if store is None:
        raise InvalidParameterError(
            "The 'store' of spikewise sweep must be given (--store PATH or store = ... in the "
            "spec file): results go into a zarr store so that a rerun resumes. Got none.")
    ds = sweep(args.function or spec.get("function", "one_step"), grid,
               seeds=args.seeds if args.seeds is not None else spec.get("seeds", 1),
               fixed=fixed, store=store,
               base_seed=args.base_seed if args.base_seed is not None else
               spec.get("base_seed", 0),
               scheduler=args.scheduler, n_workers=args.workers, n_threads=args.threads,
               retries=args.retries, progress=args.progress)
    print(ds)
    print(f"{int(ds['done'].sum())} of {ds['done'].size} points done; stored in {store}")


def _reproduce_command(args):
    import matplotlib

    from spikewise._reproduce import reproduce

    matplotlib.use("Agg")  # figures are written to files, never shown
    paths, ds = reproduce(args.page, size=args.size, out=args.out, store=args.store,
                          examples=args.examples, scheduler=args.scheduler,
                          n_workers=args.workers, n_threads=args.threads,
                          retries=args.retries, progress=args.progress)
    if ds is not None:
        print(f"{int(ds['done'].sum())} of {ds['done'].size} points done")
    for path in paths:
        print(f"Wrote {path}")


def run(parser, args) -> int:
    """Run ``spikewise sweep`` or ``spikewise reproduce``.

    Bad input exits with status 2, failed points (the others stored) with status 1.
    """
    from spikewise.sweep import SweepError

    command = _sweep_command if args.command == "sweep" else _reproduce_command
    try:
        command(args)
    except ValueError as exc:  # InvalidParameterError and malformed spec files included
        parser.exit(2, f"spikewise {args.command}: error: {exc}\n")
    except SweepError as exc:
        parser.exit(1, f"spikewise {args.command}: error: {exc}\n")
    return 0
