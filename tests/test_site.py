"""The course site (``python -m lthlib.site``) and the syllabus it renders (docs/course.md)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from lthlib.site import COURSE_MD, GLOSSARY_END, GLOSSARY_START, glossary_markdown, main, parse_only

REPO = Path(__file__).resolve().parents[1]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.images = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def links(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


def local(href: str) -> str | None:
    """The site-relative file a link points at (None: external or an anchor on the page)."""
    url = urlparse(href)
    if url.scheme or url.netloc or not url.path:
        return None
    return unquote(url.path)


def check_site(site: Path, stems: list[str], without_figures: tuple[str, ...] = ()) -> None:
    """index.html links every page; every page exists and is non-empty; every link of the
    pages lthlib.site writes resolves; the gallery shows exactly the saved PNGs."""
    index = links(site / "index.html")
    pages = {f"{s}.html" for s in stems} | {"course.html", "gallery.html"}
    assert pages <= {local(h) for h in index.hrefs}, "index.html does not link every page"
    html_files = {p.name for p in site.glob("*.html")}
    assert html_files == pages | {"index.html"}
    for name in html_files:
        assert (site / name).stat().st_size > 0, f"{name} is empty"
    for name in ("index.html", "gallery.html", "course.html"):
        for href in links(site / name).hrefs:
            target = local(href)
            if target:
                assert (site / target).is_file() and (site / target).stat().st_size > 0, \
                    f"{name} links {href}, which is missing or empty"
    gallery = links(site / "gallery.html")
    assert gallery.images, "the gallery shows no figure"
    for src in gallery.images:
        path = site / local(src)
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{src} is not a PNG"
    assert {local(s) for s in gallery.images} == {p.relative_to(site).as_posix()
                                                   for p in site.glob("figures/*/*.png")}
    for stem in stems:  # each notebook's figures are in the gallery, under its own heading
        assert stem in without_figures or any(local(s).startswith(f"figures/{stem}/") for s in gallery.images), stem
        assert f'id="{stem}"' in (site / "gallery.html").read_text()


@pytest.mark.notebook
def test_site_builds_at_smoke_scale(tmp_path, monkeypatch, capsys):
    """Two notebooks executed at smoke scale (about 20 s on a 2-core CPU)."""
    monkeypatch.setenv("LTHLIB_PROGRESS", "0")
    site = tmp_path / "site"
    assert main(["--out", str(site), "--scale", "smoke", "--only", "01,02"]) == 0
    stems = ["01_dense_training", "02_iterative_magnitude_pruning"]
    check_site(site, stems)
    index = (site / "index.html").read_text()
    assert "Dense training" in index and "Iterative magnitude pruning" in index  # titles from the headings
    for stem in stems:
        executed = nbformat.read(site / "notebooks" / f"{stem}.ipynb", as_version=4)
        assert not [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
                    if o.get("output_type") == "error"]
        assert list((site / "figures" / stem).glob("*.png")), f"{stem} saved no figure via FIGURES_DIR"
    course = (site / "course.html").read_text()
    assert 'href="01_dense_training.html"' in course  # the syllabus links the built pages
    assert "Glossary" in course and "supermask" in course


def _fake_executed(folder: Path, stem: str, title: str, with_figure: bool) -> None:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("1 + 1", execution_count=1)
    if with_figure:
        code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nSome prose."), code]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / f"{stem}.ipynb")


def test_site_from_executed_notebooks(tmp_path, capsys):
    """--executed takes notebooks as they are; figures come from the outputs when no
    figures/<notebook>/ folder exists; --only accepts commas; nothing is executed."""
    sources, executed = tmp_path / "src", tmp_path / "executed"
    (executed / "notebooks").mkdir(parents=True)
    sources.mkdir()
    for stem, title in (("01_first", "01 · The *first* one"), ("02_second", "Second"), ("03_third", "Third")):
        _fake_executed(sources, stem, title, False)
        _fake_executed(executed / "notebooks", stem, title, stem != "02_second")
    site = tmp_path / "site"
    args = ["--out", str(site), "--executed", str(executed), "--notebooks", str(sources)]
    assert main(args + ["--only", "01,03"]) == 0
    check_site(site, ["01_first", "03_third"])
    assert (site / "figures" / "01_first" / "figure_01.png").is_file()
    assert ">The first one</a>" in (site / "index.html").read_text()  # heading text, number stripped
    assert main(args) == 0  # a site built earlier is replaced
    check_site(site, ["01_first", "02_second", "03_third"], without_figures=("02_second",))
    assert "No figures." in (site / "gallery.html").read_text()


def test_site_refuses_bad_folders(tmp_path):
    (tmp_path / "src").mkdir()
    _fake_executed(tmp_path / "src", "01_first", "First", True)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("do not delete")
    with pytest.raises(SystemExit, match="not built by lthlib.site"):
        main(["--out", str(busy), "--executed", str(tmp_path / "src"), "--notebooks", str(tmp_path / "src")])
    assert (busy / "thesis.tex").exists()
    with pytest.raises(SystemExit, match="has no 01_first.ipynb"):
        main(["--out", str(tmp_path / "s"), "--executed", str(tmp_path / "nothing"),
              "--notebooks", str(tmp_path / "src")])
    with pytest.raises(SystemExit, match="matches no notebook"):
        main(["--out", str(tmp_path / "s"), "--executed", str(tmp_path / "src"),
              "--notebooks", str(tmp_path / "src"), "--only", "07"])


def test_parse_only():
    assert parse_only(["01,02", "05"]) == ["01", "02", "05"]
    assert parse_only(None) is None


def test_course_glossary_is_lthlib_glossary():
    """The syllabus glossary is the generated one (regenerate: python -m lthlib.site --update-glossary)
    and holds the terms the course relies on."""
    from lthlib.glossary import TERMS

    text = COURSE_MD.read_text()
    block = text.split(GLOSSARY_START, 1)[1].split(GLOSSARY_END, 1)[0].strip()
    assert block == glossary_markdown(), "docs/course.md's glossary is stale: python -m lthlib.site --update-glossary"
    for term in ("dense", "sparse", "density", "winning", "matching", "stable", "rewinding", "ticket",
                 "supermask", "mask", "error barrier", "strong ticket", "pruning at initialisation"):
        assert term in TERMS, term


def test_course_covers_every_notebook():
    text = COURSE_MD.read_text()
    for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"../notebooks/{nb.name}" in text, f"docs/course.md does not link {nb.name}"
        assert re.search(rf"^### {nb.stem[:2]} · ", text, re.MULTILINE), f"no section for {nb.stem}"


@pytest.mark.notebook
def test_a_failing_notebook_is_marked_and_fails_the_build(tmp_path, monkeypatch, capsys):
    from conftest import write_notebook

    monkeypatch.setenv("LTHLIB_PROGRESS", "0")
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb", 'assert SCALE == "smoke"')
    write_notebook(folder / "02_broken.ipynb", 'raise ValueError("this cell is broken")')
    site = tmp_path / "site"
    assert main(["--out", str(site), "--scale", "smoke", "--notebooks", str(folder)]) == 1
    assert "02_broken" in capsys.readouterr().err
    index = (site / "index.html").read_text()
    assert index.count("FAILED") == 1 and "this cell is broken" in index
    assert "this cell is broken" in (site / "02_broken.html").read_text()  # the page shows the error
