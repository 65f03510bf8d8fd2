"""The ``spikewise`` command line.

``spikewise --version`` prints the version; ``spikewise demo`` runs the one-step experiment at a
size that finishes in under a minute on two cores, writes the figure to ``--out`` and prints a
table of predicted against measured values. ``spikewise sweep`` and ``spikewise reproduce``
run parameter sweeps on dask into resumable zarr stores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikewise import __version__
from spikewise._cli_types import _nonnegative_float, _positive_int
from spikewise._sweep_cli import add_parsers as add_sweep_parsers
from spikewise._sweep_cli import run as run_sweep_command


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``spikewise`` command."""
    parser = argparse.ArgumentParser(
        prog="spikewise",
        description="Random-matrix spectra of feature learning in two-layer networks.",
    )
    parser.add_argument("--version", action="version", version=f"spikewise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="one gradient step: spectra and outliers, simulation against theory",
        description=(
            "Train a two-layer network for one gradient step, measure the spectra of the "
            "updated weights and of the conjugate kernel, and draw them over the theory. "
            "Writes a PNG and prints a table of predicted against measured values."
        ),
    )
    demo.add_argument("--out", type=Path, default=Path("."),
                      help="folder, or image file name (.png, .pdf, .svg, .jpg), to write the "
                           "figure to (default: .)")
    demo.add_argument("--d", type=_positive_int, default=800, help="input dimension d")
    demo.add_argument("--psi", type=float, default=2.0, help="n / d (default 2)")
    demo.add_argument("--phi", type=float, default=1.5, help="N / d (default 1.5)")
    demo.add_argument("--activation", default="tanh", help="student activation preset")
    demo.add_argument("--teacher", default="tanh", help="teacher activation preset")
    demo.add_argument("--noise", type=_nonnegative_float, default=0.0, help="label noise std")
    demo.add_argument("--eta", type=_nonnegative_float, default=None,
                      help="learning rate (default: twice the BBP threshold)")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--force", action="store_true",
                      help="run even if the simulation needs more memory than the machine has")
    add_sweep_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikewise`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in ("sweep", "reproduce"):
        return run_sweep_command(parser, args)
    if args.command == "demo":
        from spikewise._demo import run_demo

        try:
            path, table = run_demo(
                out=args.out, d=args.d, psi=args.psi, phi=args.phi,
                activation=args.activation, teacher=args.teacher, noise=args.noise,
                eta=args.eta, seed=args.seed, allow_large=args.force,
            )
        except ValueError as exc:  # InvalidParameterError included
            parser.exit(2, f"spikewise demo: error: {exc}\n")
        except MemoryError as exc:
            parser.exit(1, f"spikewise demo: error: out of memory ({exc or 'no detail'}); "
                           "use a smaller --d\n")
        except OSError as exc:  # the figure could not be written
            parser.exit(1, f"spikewise demo: error: cannot write the figure: {exc}\n")
        print(table)
        print(f"Wrote {path}")
        return 0
    return 0  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
