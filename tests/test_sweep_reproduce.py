"""``spikewise reproduce``: every gallery page resolves; a script page runs end to end."""

from pathlib import Path

import pytest

from spikewise._reproduce import PAGES, Page, find_page, gallery_pages, reproduce
from spikewise._validation import InvalidParameterError
from spikewise.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
FILES = sorted(EXAMPLES.glob("plot_*.py"))


def test_the_gallery_is_found():
    assert len(FILES) >= 20
    assert list(gallery_pages()) == [f.name[5:-3] for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_every_page_resolves(path):
    name = path.name.removeprefix("plot_").removesuffix(".py")
    number = name[:2]
    for key in (path.name, name, number, str(int(number)), name[3:]):
        found, entry = find_page(key)
        assert found == name
    # the sweep pages are run by spikewise.sweep, the others as their script
    if name in PAGES:
        assert isinstance(entry, Page)
    else:
        assert entry == path


@pytest.mark.parametrize("page", ["99", "00", "plot_99_nothing.py", "marchenko", ""])
def test_unknown_page_is_refused_with_the_list(page):
    with pytest.raises(InvalidParameterError, match="'page'.*01_marchenko_pastur.*21_sweep"):
        find_page(page)


def test_script_page_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SPIKEWISE_SIZE", raising=False)
    argv = ["reproduce", "01", "--size", "small", "--out", str(tmp_path)]
    assert main(argv) == 0
    # the page draws two figures: one file each, named after the page
    pngs = [tmp_path / f"01_marchenko_pastur_small_{k}.png" for k in (1, 2)]
    out = capsys.readouterr().out
    assert "Kolmogorov distance" in out  # the page's own output
    for png in pngs:
        assert f"Wrote {png}" in out
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(tmp_path.iterdir()) == pngs
    # the page's size does not leak out, and the figures are closed
    import matplotlib.pyplot as plt

    assert "SPIKEWISE_SIZE" not in __import__("os").environ
    assert plt.get_fignums() == []


def test_script_page_refuses_a_store(tmp_path):
    with pytest.raises(InvalidParameterError, match="'store'.*06_bbp_transition"):
        reproduce("01", size="small", out=tmp_path, store=tmp_path / "x.zarr")


def test_examples_folder_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "plot_01_only.py").write_text(
        "import os\nimport matplotlib.pyplot as plt\n"
        "for k in range(2):\n    plt.figure()\n    plt.title(os.environ['SPIKEWISE_SIZE'])\n"
        "plt.show()\n")
    monkeypatch.setenv("SPIKEWISE_EXAMPLES", str(tmp_path))
    assert find_page("1") == ("01_only", tmp_path / "plot_01_only.py")
    paths, ds = reproduce("01", size="paper", out=tmp_path / "out")
    assert ds is None
    assert [p.name for p in paths] == ["01_only_paper_1.png", "01_only_paper_2.png"]
    assert all(p.is_file() for p in paths)


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_every_page_reproduces_at_small_size(path, tmp_path):
    pytest.importorskip("distributed")
    name = path.name.removeprefix("plot_").removesuffix(".py")
    paths, ds = reproduce(name, size="small", out=tmp_path, n_workers=1, processes=False,
                          progress=False)
    assert paths and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    assert all(p.name.startswith(f"{name}_small") for p in paths)
    assert (ds is not None) == (name in PAGES)
    if ds is not None:
        assert bool(ds["done"].all())
