"""The course site (``python -m lthlib.apps.site``) and the syllabus it renders (docs/course.md)."""
from __future__ import annotations

import contextlib
import functools
import html
import http.server
import os
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from lthlib.apps.site import COURSE_MD, GLOSSARY_END, GLOSSARY_START, glossary_markdown, main, parse_only
from lthlib.apps.site_pages import WIDGET_NOTE, markdown_to_html

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


class _Loads(HTMLParser):
    """What a page makes the browser fetch: the URLs of scripts, styles, images, frames, media
    and every other ``<link>``, ``url(...)``/``@import`` in styles, and URLs that inline
    scripts import or fetch (links a reader may follow, ``<a href>``, are not loads)."""
    ATTRS = {"script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
             "frame": ("src",), "embed": ("src",), "object": ("data",), "source": ("src", "srcset"),
             "video": ("src", "poster"), "audio": ("src",), "track": ("src",), "input": ("src",),
             "image": ("href", "xlink:href"), "use": ("href", "xlink:href")}
    CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")
    JS_URL = re.compile(r"""(?:\bimport\s*\(|\bfrom|\bfetch\s*\(|\.src\s*=|Src\s*=)\s*['"`]((?:[a-z]+:)?//[^'"`]+)""")

    def __init__(self):
        super().__init__()
        self.urls, self._in = [], None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and name in self.ATTRS.get(tag, ()):
                self.urls += [part.split()[0] for part in value.split(",") if part.strip()] \
                    if name == "srcset" else [value]
            if value and name == "style":
                self.urls += [a or b for a, b in self.CSS_URL.findall(value)]
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.urls += [a or b for a, b in self.CSS_URL.findall(data)]
        elif self._in == "script":
            self.urls += self.JS_URL.findall(data)


def outside_loads(site: Path) -> list[str]:
    """Every URL a page of ``site`` loads that is not a file inside the site folder (a data:
    URL is inside the page); each as ``page: url``."""
    found = []
    root = site.resolve()
    for page in sorted(site.rglob("*.html")):
        parser = _Loads()
        parser.feed(page.read_text())
        for url in parser.urls:
            parts = urlparse(url)
            if parts.scheme == "data" or url.startswith("#"):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if parts.scheme or parts.netloc or url.startswith("/") or not target.is_relative_to(root):
                found.append(f"{page.relative_to(site)}: {url}")
            elif not target.is_file():
                found.append(f"{page.relative_to(site)}: {url} (missing)")
    return found


def check_self_contained(site: Path, stems: list[str], hidden: tuple[str, ...]) -> None:
    """Nothing loaded from outside the site; each page titled with its notebook's heading; maths
    as MathML, no TeX left in the prose; none of the ``hidden`` strings (the build's folders)
    in any file of the site."""
    assert outside_loads(site) == []
    for stem in stems:
        text = (site / f"{stem}.html").read_text()
        nb = nbformat.read(site / "notebooks" / f"{stem}.ipynb", as_version=4)
        heading = next(line for c in nb.cells if c.cell_type == "markdown"
                       for line in c.source.splitlines() if line.startswith("#"))
        title = re.search(r"<title>(.*?)</title>", text).group(1)
        assert title != "Notebook" and heading.lstrip("# ").startswith(title[:8]), (stem, title, heading)
        assert "<script src" not in text and "mathjax" not in text.lower() and "require.js" not in text
        prose = re.findall(r'<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown[^"]*"[^>]*>(.*?)</div>',
                           text, re.DOTALL)
        assert not [p for p in prose if re.search(r"\$[^$<]*\\[A-Za-z]", p)], f"{stem}: TeX left in the prose"
        assert 'class="lthlib-tex"' not in text, f"{stem}: a formula latex2mathml could not read"
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".ipynb"):
            content = path.read_text()
            for folder in hidden:
                assert folder not in content, f"{path.relative_to(site)} shows the build's folder {folder}"


def check_site(site: Path, stems: list[str], without_figures: tuple[str, ...] = ()) -> None:
    """index.html links every page; every page exists and is non-empty; every link of the
    pages lthlib.apps.site writes resolves; the gallery shows exactly the saved PNGs."""
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


SMOKE_STEMS = ["01_dense_training", "02_iterative_magnitude_pruning"]


@pytest.fixture(scope="module")
def smoke_site(tmp_path_factory, smoke_results) -> Path:
    """Two notebooks executed at smoke scale by the site's own build, built once for the tests
    of this module, on the session's store of smoke runs (``--results``: what the notebook
    tests trained is read, not trained again; run alone, this trains it)."""
    site = tmp_path_factory.mktemp("smoke") / "site"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LTHLIB_PROGRESS", "0")
        assert main(["--out", str(site), "--scale", "smoke", "--only", "01,02", "--results", str(smoke_results)]) == 0
    return site


@pytest.mark.notebook
def test_site_builds_at_smoke_scale(smoke_site):
    site, stems = smoke_site, SMOKE_STEMS
    check_site(site, stems)
    check_self_contained(site, stems, hidden=("lthlib-site-", str(REPO)))
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


CHROMIUM = os.environ.get("LTHLIB_CHROMIUM", "/usr/bin/chromium")  # Debian's package chromium
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MATHS_IN_PAGE = """() => {
  const maths = [...document.querySelectorAll('math')];
  const sub = document.querySelector('math msub');
  const box = (e) => e.getBoundingClientRect();
  return {count: maths.length,
          mathml: maths.every((m) => m instanceof MathMLElement),
          laid_out: maths.filter((m) => box(m).width > 0 && box(m).height > 0).length,
          lowered: sub ? box(sub.children[1]).bottom - box(sub.children[0]).bottom : null,
          tex: [...document.querySelectorAll('.jp-RenderedMarkdown')].map((e) => e.innerText)
                 .filter((t) => /\\$[^$]*\\\\[A-Za-z]/.test(t))};
}"""

IMAGES_LOADED = """async () => {
  const images = [...document.images];
  images.forEach((i) => { i.loading = 'eager'; });  // the gallery's are lazy
  await Promise.all(images.map((i) => i.decode().catch(() => null)));
  return {count: images.length, shown: images.filter((i) => i.complete && i.naturalWidth > 0).length};
}"""


def _playwright_or_skip():
    """Skip (fail where LTHLIB_REQUIRE_BROWSER=1, as in CI) without Chromium or playwright."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -r requirements.txt)")
    if not Path(CHROMIUM).is_file():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set LTHLIB_CHROMIUM)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("LTHLIB_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _served(folder: Path):
    """``folder`` served over HTTP on 127.0.0.1 (a free port); yields the root URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser_tools() -> None:
    """Skips before the smoke site is built when the browser test cannot run."""
    _playwright_or_skip()


@pytest.mark.notebook
def test_site_in_a_browser(browser_tools, smoke_site, tmp_path):
    """Every page of the smoke site in headless Chromium, served from 127.0.0.1 with any other
    request refused: no console error, no failed request, nothing asked of another host, every
    local link answers, each notebook page titled; the maths typeset offline (MathML laid
    out: a subscript sits lower than its base) and no TeX left in the prose."""
    from playwright.sync_api import sync_playwright

    with _served(smoke_site) as root, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            outside, errors, failed = [], [], []

            def route(request_route):
                url = request_route.request.url
                if url.startswith(root):
                    request_route.continue_()
                else:
                    outside.append(url)
                    request_route.abort()

            page.route("**/*", route)
            page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page.on("response", lambda r: failed.append(f"{r.url} ({r.status})") if r.status >= 400 else None)
            links = set()
            for name in ["index.html", "course.html", "gallery.html"] + [f"{s}.html" for s in SMOKE_STEMS]:
                page.goto(root + name, wait_until="load")
                images = page.evaluate(IMAGES_LOADED)
                assert images["shown"] == images["count"], (name, images)
                links |= {h.split("#")[0] for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                          if h.startswith(root)}
                if name[:2].isdigit():
                    assert page.title() not in ("", "Notebook") and page.title()[:2] == name[:2], page.title()
                    maths = page.evaluate(MATHS_IN_PAGE)
                    assert maths["count"] > 0 and maths["mathml"], (name, maths)
                    assert maths["laid_out"] == maths["count"], (name, maths)
                    assert maths["lowered"] is not None and maths["lowered"] > 1, (name, maths)
                    assert maths["tex"] == [], (name, maths["tex"])
            page.goto(root + "02_iterative_magnitude_pruning.html", wait_until="load")
            page.locator(".jp-RenderedMarkdown", has=page.locator("math")).first.screenshot(path=tmp_path / "maths.png")
            for url in sorted(links):
                assert page.request.get(url).status == 200, f"{url} does not answer"
        finally:
            browser.close()
    assert outside == [], f"requests to other hosts: {outside}"
    assert errors == [], errors
    assert failed == [], failed
    assert (tmp_path / "maths.png").stat().st_size > 1000


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


def test_pages_are_self_contained_and_show_no_build_folder(tmp_path):
    """A notebook as papermill leaves it (injected parameters with the build's folders, widget
    state, maths in Markdown and a text/latex output): its page loads nothing from outside the
    site, has the notebook's title, MathML for every formula, a note for the widget, and
    neither it nor the downloadable copy shows the build's folders."""
    build = tmp_path / "lthlib-site-abc123"  # as the build's temporary folder is named
    sources, executed = tmp_path / "src", build / "notebooks"
    sources.mkdir()
    executed.mkdir(parents=True)
    _fake_executed(sources, "01_maths", "01 · Masks $m \\odot \\theta_0$", False)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('SCALE = "quick"\nRESULTS_DIR = None', execution_count=1)
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell(
        f'# Parameters\nSCALE = "smoke"\nSEEDS = 2\nRESULTS_DIR = "{build}/results"\n'
        f'FIGURES_DIR = "{build}/figures/01_maths"\nCLAIMS_FILE = "{build}/claims/01_maths.json"\n',
        execution_count=2)
    injected.metadata["tags"] = ["injected-parameters"]
    widget = nbformat.v4.new_code_cell("explorer", execution_count=3)
    widget.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "interactive(children=(IntSlider(value=1),))"})]
    latex = nbformat.v4.new_code_cell("Math(...)", execution_count=4)
    latex.outputs = [nbformat.v4.new_output("display_data",
                                            data={"text/latex": "$$(1-p)^n$$", "text/plain": "<Math>"}),
                     nbformat.v4.new_output("stream", name="stdout", text=f"stored in {build}/results/ab12\n")]
    prose = ("# 01 · Masks $m \\odot \\theta_0$\n\nA mask $m \\in \\{0,1\\}^{|\\theta|}$, kept $(1-p)^n$:\n\n"
             "$$\\max_{\\alpha} \\tfrac{1}{2}\\big(a + b\\big)$$\n\n\\begin{equation}\ne = mc^2\n\\end{equation}")
    nb.cells = [nbformat.v4.new_markdown_cell(prose),
                params, injected, widget, latex]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                            "version_minor": 0}}
    nb.metadata["papermill"] = {"input_path": str(REPO / "notebooks" / "01_maths.ipynb"),
                                "output_path": str(executed / "01_maths.ipynb"),
                                "parameters": {"SCALE": "smoke", "RESULTS_DIR": f"{build}/results"}}
    nbformat.write(nb, executed / "01_maths.ipynb")
    site = tmp_path / "site"
    assert main(["--out", str(site), "--executed", str(build), "--notebooks", str(sources)]) == 0
    check_self_contained(site, ["01_maths"], hidden=(str(tmp_path), str(REPO)))
    page = (site / "01_maths.html").read_text()
    assert "<title>01 · Masks m⊙θ0</title>" in page  # the heading as plain text
    # one formula in the heading, four in the prose, one output
    assert page.count("<math") == 6 and len(re.findall(r'<math[^>]*display="block"', page)) == 3
    assert ":math" not in page  # the heading's formula is MathML, not an unknown ns0:math
    assert "<munder>" in page  # \max_{\alpha} in display maths: the limit underneath
    assert WIDGET_NOTE in page and "widget-state" not in page and "widget-view" not in page
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert 'SCALE = "smoke"\nSEEDS = 2\n# RESULTS_DIR, FIGURES_DIR, CLAIMS_FILE: the build\'s own folders' in text
    assert "stored in <build folder>/results/ab12" in text
    download = nbformat.read(site / "notebooks" / "01_maths.ipynb", as_version=4)
    assert download.metadata.papermill.parameters == {"SCALE": "smoke"}
    assert download.metadata.papermill.input_path == "notebooks/01_maths.ipynb"
    assert "widgets" in download.metadata  # the download is the executed notebook, less the folders
    injected = [c for c in download.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "RESULTS_DIR =" not in injected[0].source


def test_every_formula_of_the_course_is_typeset():
    """latex2mathml reads every formula of the notebooks and the syllabus (one it cannot read
    would reach readers as TeX source)."""
    sources = [(nb.name, cell.source) for nb in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
               for cell in nbformat.read(nb, as_version=4).cells if cell.cell_type == "markdown"]
    sources.append((COURSE_MD.name, COURSE_MD.read_text()))
    failures, formulas = [], 0
    for name, source in sources:
        before = len(failures)
        rendered = markdown_to_html(source, failures)
        formulas += rendered.count("<math")
        failures[before:] = [f"{name}: {f}" for f in failures[before:]]
    assert failures == []
    assert formulas > 100


def test_site_refuses_bad_folders(tmp_path):
    (tmp_path / "src").mkdir()
    _fake_executed(tmp_path / "src", "01_first", "First", True)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("do not delete")
    with pytest.raises(SystemExit, match="not built by lthlib.apps.site"):
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
    """The syllabus glossary is the generated one (regenerate: python -m lthlib.apps.site --update-glossary)
    and holds the terms the course relies on."""
    from lthlib.report.glossary import TERMS

    text = COURSE_MD.read_text()
    block = text.split(GLOSSARY_START, 1)[1].split(GLOSSARY_END, 1)[0].strip()
    assert block == glossary_markdown(), "docs/course.md's glossary is stale: python -m lthlib.apps.site --update-glossary"
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
