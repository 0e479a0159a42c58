"""The documentation site, built from the notebooks and opened in a real browser (headless Chromium).

The site is built once per test session with the documented command (`cifar_nb_docs`), served from `_docs/` on
127.0.0.1, and every page is opened in Chromium: pages load with no JavaScript errors and no request leaves the
machine, images load, internal links and their anchors resolve, the sidebar lists every notebook, and search works.
Screenshots of the home page and the tutorial are saved in `_docs/_screenshots/`.
"""
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from cifar_nb.docs import page_name

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
SITE = ROOT / "_docs"
CHROMIUM, CHROMEDRIVER = (shutil.which("chromium") or "/usr/bin/chromium",
                          shutil.which("chromedriver") or "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1440,900"]

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="Chromium and chromedriver are not installed: "
                                       "apt-get install chromium chromium-driver")


def notebook_pages() -> dict:
    "Every notebook in nbs/ → the page nbdev makes of it, e.g. 10_data.ipynb → data.html."
    return {p.name: page_name(p) for p in sorted(NBS.glob("*.ipynb"))}


@pytest.fixture(scope="session")
def site():
    """Build the site with the documented command, once per session (or test the one in $CIFAR_NB_DOCS_SITE)."""
    if os.environ.get("CIFAR_NB_DOCS_SITE"): return Path(os.environ["CIFAR_NB_DOCS_SITE"])
    exe = shutil.which("cifar_nb_docs")
    cmd = [exe] if exe else [sys.executable, "-m", "cifar_nb.docs"]
    res = subprocess.run(cmd + ["--skip_readme"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, f"the docs build failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
    assert (SITE / "index.html").exists()
    return SITE


@pytest.fixture(scope="session")
def base_url(site):
    """The built site served over HTTP on 127.0.0.1 at a free port."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # a browser that drops a connection is no failure of the site
            if not isinstance(sys.exc_info()[1], ConnectionError): super().handle_error(request, client_address)
    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium driven by Selenium, with a new empty profile; it logs the console and all network requests."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]: opts.add_argument(f)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r: return r.status
    except urllib.error.HTTPError as e: return e.code


def open_page(browser, url: str):
    """Load `url`, wait until it and its scripts have settled, and return the console messages and requested URLs."""
    browser.get_log("browser"), browser.get_log("performance")  # forget earlier pages
    browser.get(url)
    for _ in range(100):
        if browser.execute_script("return document.readyState") == "complete": break
        time.sleep(0.1)
    time.sleep(0.5)  # MathJax and the search index load after `load`
    console = browser.get_log("browser")
    requests = [m["params"]["request"]["url"]
                for m in map(lambda e: json.loads(e["message"])["message"], browser.get_log("performance"))
                if m["method"] == "Network.requestWillBeSent"]
    return console, requests


@pytest.fixture(scope="session")
def pages(site, base_url, browser):
    """Every page of the site (notebooks, API reference, search) opened in Chromium, with what the browser saw."""
    res = {}
    for name in sorted({*notebook_pages().values(), "api.html", "search.html", "genindex.html"}):
        console, requests = open_page(browser, base_url + name)
        links = browser.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)")
        broken_imgs = browser.execute_script(
            "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        n_imgs = browser.execute_script("return document.images.length")
        h1, desc = browser.execute_script("return [document.querySelector('article h1'), "
                                          """document.querySelector('article p.description')]
                                             .map(e => e ? e.textContent : null)""")
        res[name] = dict(status=http_status(base_url + name), console=console, requests=requests, links=links,
                         broken_imgs=broken_imgs, n_imgs=n_imgs, h1=h1, description=desc)
    return res


def test_every_notebook_has_a_page_that_loads_without_errors(pages):
    for nb, page in notebook_pages().items():
        assert page in pages, f"{nb} has no page {page}"
    for name, p in pages.items():
        assert p["status"] == 200, f"{name}: HTTP {p['status']}"
        errors = [e for e in p["console"] if e["level"] == "SEVERE"]
        assert not errors, f"{name}: errors in the browser console: {errors}"


def test_pages_load_nothing_from_the_network(pages, base_url):
    host = urlparse(base_url).netloc
    for name, p in pages.items():
        outside = [u for u in p["requests"]
                   if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != host]
        assert not outside, f"{name} requests resources from outside the site: {outside}"


def test_built_html_has_no_remote_scripts_or_styles(site):
    for html in site.glob("*.html"):
        tags = re.findall(r"<(?:script|link)\b[^>]*>", html.read_text(encoding="utf-8"))
        remote = [t for t in tags if re.search(r"""(?:src|href)=["']?(?:https?:)?//""", t)]
        assert not remote, f"{html.name} loads from the web: {remote}"


def committed_figures(nb: Path) -> int:
    "How many figures the notebook's committed outputs hold in cells that the docs show."
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    hidden = re.compile(r"^#\|\s*(hide|export|exporti|include:\s*false|output:\s*false)\s*$", re.M)
    return sum(1 for c in cells if c["cell_type"] == "code" and not hidden.search("".join(c["source"]))
               for o in c.get("outputs", []) if {"image/png", "image/jpeg", "image/svg+xml"} & set(o.get("data", {}))
               and "application/vnd.jupyter.widget-view+json" not in o.get("data", {}))


def test_every_image_loads(pages):
    for name, p in pages.items():
        assert not p["broken_imgs"], f"{name}: images that did not load: {p['broken_imgs']}"
    # the committed figures are all on the page (training curves, confusion matrix...)
    for nb, page in notebook_pages().items():
        assert pages[page]["n_imgs"] >= committed_figures(NBS / nb), \
            f"{page}: {pages[page]['n_imgs']} images, {nb} has {committed_figures(NBS / nb)} figures"
    assert committed_figures(NBS / "00_tutorial.ipynb") >= 2, "the tutorial notebook has lost its figures"


def test_internal_links_and_anchors_resolve(pages, base_url):
    targets = {}
    for name, p in pages.items():
        for href in p["links"]:
            if href.startswith(base_url): targets.setdefault(urldefrag(href)[0], set()).add((urldefrag(href)[1], name))
    assert len(targets) > len(pages) / 2
    for url, uses in targets.items():
        status = http_status(url)
        assert status == 200, f"{url} (linked from {sorted({n for _, n in uses})}): HTTP {status}"
        if url.endswith((".html", "/")):
            html = urllib.request.urlopen(url).read().decode("utf-8")
            ids = set(re.findall(r"""\bid=["']([^"']+)["']""", html))
            missing = sorted({(frag, n) for frag, n in uses if frag and frag not in ids})
            assert not missing, f"{url}: missing anchors (anchor, linked from): {missing}"


def test_sidebar_lists_every_notebook(browser, base_url, site):
    open_page(browser, base_url + "index.html")
    hrefs = browser.execute_script(
        "return [...document.querySelectorAll('.sidebar-tree a')].map(a => a.getAttribute('href'))")
    listed = {urlparse(h).path.split("/")[-1] for h in hrefs}
    for nb, page in notebook_pages().items():
        if page != "index.html":
            assert page in listed, f"the sidebar does not list {nb} ({page}); it lists {sorted(listed)}"
    assert "api.html" in listed


def test_sidebar_groups_the_lessons_apart_from_the_library(browser, base_url, site):
    open_page(browser, base_url + "index.html")
    captions = browser.execute_script(
        "return [...document.querySelectorAll('.sidebar-tree .caption')].map(c => c.textContent.trim())")
    assert captions == ["Learn", "Library"], captions
    groups = browser.execute_script(
        "return [...document.querySelectorAll('.sidebar-tree .caption')].map(c => "
        "[...c.nextElementSibling.querySelectorAll('a')].map(a => a.getAttribute('href')))")
    learn, library = ({urlparse(h).path.split("/")[-1] for h in g} for g in groups)
    assert {"tutorial.html", "data.html", "training.html"} <= learn and "sources.html" not in learn
    assert {"sources.html", "runs.html", "cli.html", "api.html"} <= library and "tutorial.html" not in library


def test_exercise_solutions_are_folded(browser, base_url, site):
    open_page(browser, base_url + "training.html")
    folded = browser.execute_script(
        "return [...document.querySelectorAll('details.hide-input, .tag_hide-input details')].length")
    assert folded >= 5, "the worked solutions of the exercises should be folded away"
    assert "Solution 1" in browser.page_source or "Show code" in browser.page_source


def test_home_page_links_to_every_notebook(browser, base_url, site):
    open_page(browser, base_url + "index.html")
    hrefs = browser.execute_script(
        "return [...document.querySelectorAll('article a')].map(a => a.getAttribute('href'))")
    linked = {urlparse(h).path.split("/")[-1] for h in hrefs}
    missing = sorted(nb for nb, page in notebook_pages().items() if page != "index.html" and page not in linked)
    assert not missing, f"the home page (nbs/index.ipynb, 'What's inside') does not link to {missing}"


def test_pages_have_the_notebooks_titles_and_summaries(pages):
    def norm(t):  # the words a reader sees: no Markdown marks, links as their text, plain quotes (Sphinx curls them)
        t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t or "")
        t = t.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "…": "..."}))
        return " ".join(re.sub(r"[`*¶]", "", t).split())
    for nb, page in notebook_pages().items():
        src = json.loads((NBS / nb).read_text(encoding="utf-8"))
        md = next(("".join(c["source"]) for c in src["cells"] if c["cell_type"] == "markdown"), "")
        title, summary = re.search(r"^#\s+(.+?)\s*$", md, re.M), re.search(r"^>\s+(.+?)\s*$", md, re.M)
        if title:
            assert norm(pages[page]["h1"]) == norm(title[1]), \
                f"{page}: heading {pages[page]['h1']!r}, notebook says {title[1]!r}"
        if summary:
            assert norm(pages[page]["description"]) == norm(summary[1]), \
                f"{page}: summary {pages[page]['description']!r}"


def search_results(browser, base_url, term):
    open_page(browser, base_url + "search.html?q=" + urllib.parse.quote(term))
    for _ in range(100):
        found = browser.execute_script(
            "return [...document.querySelectorAll('#search-results li a')].map(a => a.getAttribute('href'))")
        done = browser.execute_script("return !!document.querySelector('#search-results p.search-summary')")
        if done:
            # Sphinx remembers the search terms to highlight them on later pages
            browser.execute_script("localStorage.clear()")
            return {urlparse(h).path.split("/")[-1] for h in found}
        time.sleep(0.1)
    raise AssertionError(f"search for {term!r} did not finish")


@pytest.mark.parametrize("term", ["Grad-CAM", "MaxPooling2D"])
def test_search_finds_a_known_term(browser, base_url, site, term):
    expected = {page for nb, page in notebook_pages().items()
                if term.lower() in (NBS / nb).read_text(encoding="utf-8").lower()}
    assert expected, f"no notebook mentions {term}"
    found = search_results(browser, base_url, term)
    assert found & expected, f"search for {term!r} found {sorted(found)}, expected one of {sorted(expected)}"


def test_screenshots(browser, base_url, site):
    shots = site / "_screenshots"
    shots.mkdir(exist_ok=True)
    open_page(browser, base_url + "index.html")
    browser.save_screenshot(str(shots / "home.png"))
    open_page(browser, base_url + "tutorial.html")
    browser.save_screenshot(str(shots / "tutorial.png"))
    # the whole tutorial page, figures included: make the window as tall as the page
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1440, min(height, 16000))
    time.sleep(0.5)
    browser.save_screenshot(str(shots / "tutorial-full.png"))
    browser.set_window_size(1440, 900)
    for f in ("home.png", "tutorial.png", "tutorial-full.png"): assert (shots / f).stat().st_size > 10_000
    print(f"\nscreenshots: {shots}")
