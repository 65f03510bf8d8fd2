"""The command line: --version, demo writes a PNG and prints where, bad options fail clearly."""

import subprocess
import sys

import pytest

import spikewise
from spikewise.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"spikewise {spikewise.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_writes_png_and_reports_it(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--d", "120", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    png = tmp_path / "spikewise_demo.png"
    assert png.is_file()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Wrote {png}" in out
    assert "measured" in out and "W1 top singular value" in out
    # the table's measured top singular value is a number next to its predictions
    row = next(line for line in out.splitlines() if line.startswith("W1 top singular value"))
    numbers = [float(tok) for tok in row.split()[4:]]
    assert len(numbers) == 4 and all(x > 0 for x in numbers)
    # columns limit, finite N, this draw, measured: the measured value agrees with the
    # prediction given the draw (1.3% apart at this seed; the limit is 10% off at d = 120)
    assert abs(numbers[3] / numbers[2] - 1) < 0.05, numbers


def test_demo_accepts_a_png_file_name(tmp_path, capsys):
    target = tmp_path / "sub" / "fig.png"
    assert main(["demo", "--out", str(target), "--d", "100"]) == 0
    assert target.is_file()


def test_demo_rejects_bad_values(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(tmp_path), "--d", "-5"])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(tmp_path), "--psi", "-1"])
    assert info.value.code == 2
    assert "'psi'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(tmp_path), "--activation", "nope"])
    assert info.value.code == 2
    assert "relu" in capsys.readouterr().err  # the error lists the presets


def test_console_script_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "spikewise.cli", "--version"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert spikewise.__version__ in done.stdout


def test_readme_tour_runs_and_draws_the_predicted_outlier(tmp_path, monkeypatch):
    # the README's python block, run as a user would paste it
    import re
    from pathlib import Path

    import matplotlib.pyplot as plt

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "tour.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = namespace["ax"]
    lines = [ln for ln in ax.lines if ln.get_gid() == "spikewise-predicted-outlier"]
    assert len(lines) == 1
    assert lines[0].get_xdata()[0] == namespace["theory"].finite.ck_outlier
    plt.close("all")
