"""The built site as a reader sees it: opened in a real (headless) Chromium, offline.

- Every page with math shows it typeset by MathJax (``mjx-container`` elements) and no raw
  ``\\(`` or ``\\[`` is left in its text; MathJax comes from the site itself.
- No page loads anything from the network: every ``<script src>``, ``<link href>``,
  ``<img src>`` of every built page is a local file, and the pages opened in the browser make
  no http(s) request.
- Lesson figures are shown at their own size (not shrunk to fit the column, which made
  their labels unreadable) and have alt text that says what they show.
- Screenshots of lessons 1, 4 and 8 are saved in ``docs/_build/screenshots/`` (the top of
  the page, the first display equation, the first figure) to look at.

The browser is Chromium from the OS packages (``apt-get install chromium``; ``.ci/run``
installs it); without it these tests are skipped, saying so. It is driven through the
DevTools protocol over a pipe (``tests/headless_chromium.py``), at a 1400 x 900 window.
"""

import re
from html.parser import HTMLParser

import pytest
from headless_chromium import Chromium, find_chromium
from test_site import DOCS, LESSON_FILES, built_site

SCREENSHOTS = DOCS / "_build" / "screenshots"
SCREENSHOT_LESSONS = ("01_convolution_by_hand", "04_conv2d_forward_backward",
                      "08_pretrained_resnet18")
MATH_LESSONS = [p for p in LESSON_FILES if p.stem[:2] in ("01", "02", "03", "04")]
WINDOW = (1400, 900)
# resolves once MathJax has typeset the page (at once on a page without math)
MATH_DONE = ("window.MathJax && MathJax.startup && MathJax.startup.promise ? "
             "MathJax.startup.promise.then(() => true) : true")
# the attribute through which each tag loads something by itself
LOADED_BY = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href",
             "audio": "src", "video": "src", "embed": "src"}
NETWORK = re.compile(r"^(https?:|wss?:|ftp:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def site():
    return built_site()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium; .ci/run does)")
    with Chromium(binary, tmp_path_factory.mktemp("chromium-profile"), *WINDOW) as chromium:
        yield chromium


def html_pages(site):
    return sorted(site.rglob("*.html"))


class ResourceLinks(HTMLParser):
    """Every address a page loads by itself: script src, link href, img/iframe/source src."""

    def __init__(self):
        super().__init__()
        self.addresses = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") in ("canonical", "alternate", "next", "prev"):
            return                                      # not loaded, only named
        key = LOADED_BY.get(tag)
        if key and attrs.get(key):
            self.addresses.append(f"<{tag} {key}={attrs[key]}>")


def test_no_page_names_a_resource_on_the_network(site):
    remote = {}
    for page in html_pages(site):
        parser = ResourceLinks()
        parser.feed(page.read_text(encoding="utf-8"))
        found = [a for a in parser.addresses if NETWORK.match(a.split("=", 1)[1])]
        if found:
            remote[str(page.relative_to(site))] = found
    assert not remote, f"pages that load from the network: {remote}"


def test_mathjax_is_part_of_the_site(site):
    page = (site / "lessons" / f"{MATH_LESSONS[0].stem}.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', page, re.IGNORECASE)
    assert scripts, "no MathJax script in a lesson with math"
    for src in scripts:
        assert not NETWORK.match(src), f"MathJax comes from the network: {src}"
        path = src.split("?")[0]                              # ?v=... is a cache buster
        assert (site / "lessons" / path).resolve().is_file(), f"{src} is not in the site"


def open_page(browser, page):
    """Open a built page; return the http(s) requests it made."""
    requests = browser.open(page.as_uri(), MATH_DONE)
    return [url for url in requests if NETWORK.match(url)]


def math_state(browser):
    """Formulas typeset, raw TeX delimiters left in the text, display formulas wider than
    their box that do not scroll inside it, and whether the page is wider than the window."""
    return browser.evaluate("""(() => {
        const text = document.querySelector('.bd-article').innerText;
        const display = [...document.querySelectorAll('.bd-article mjx-container[display="true"]')];
        const spills = display.filter(m => m.scrollWidth > m.clientWidth + 1
            && !['auto', 'scroll'].includes(getComputedStyle(m).overflowX));
        return {typeset: document.querySelectorAll('.bd-article mjx-container').length,
                raw: (text.match(/\\\\[(\\[]/g) || []).length,
                spilling: spills.length,
                page_too_wide: document.documentElement.scrollWidth > window.innerWidth};
    })()""")


@pytest.mark.parametrize("lesson", MATH_LESSONS, ids=lambda p: p.stem)
def test_lesson_math_is_typeset_offline(site, browser, lesson):
    requests = open_page(browser, site / "lessons" / f"{lesson.stem}.html")
    assert not requests, f"{lesson.stem} requested {requests}"
    state = math_state(browser)
    assert state["typeset"] > 0, f"{lesson.stem}: no formula typeset by MathJax"
    assert state["raw"] == 0, f"{lesson.stem}: {state['raw']} raw \\( or \\[ left in the text"
    assert state["spilling"] == 0, f"{lesson.stem}: a long formula does not scroll in its box"
    assert not state["page_too_wide"], f"{lesson.stem}: the page is wider than the window"


def test_every_page_with_math_is_typeset_and_no_page_uses_the_network(site, browser):
    """The other pages with math (theory, layers, API reference ...) and a sample of those
    without (the home page, the lesson index): typeset, and no request to the network."""
    pages = [p for p in html_pages(site) if 'class="math' in p.read_text(encoding="utf-8")
             and "lessons" not in p.parts]
    pages += [site / "index.html", site / "lessons" / "index.html"]
    problems = {}
    for page in pages:
        requests = open_page(browser, page)
        state = math_state(browser)
        has_math = 'class="math' in page.read_text(encoding="utf-8")
        if requests or state["raw"] or state["spilling"] or state["page_too_wide"] or (
                has_math and not state["typeset"]):
            problems[str(page.relative_to(site))] = {"requests": requests, **state}
    assert not problems, problems


def figures(browser):
    """The images of the article: natural width, width shown, alt text, address."""
    return browser.evaluate("""[...document.querySelectorAll('.bd-article img')].map(i => ({
        natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
        alt: i.getAttribute('alt') || '', src: i.getAttribute('src')}))""")


@pytest.mark.parametrize("lesson", LESSON_FILES, ids=[f.stem for f in LESSON_FILES])
def test_lesson_figures_are_readable_and_described(site, browser, lesson):
    """At 100 % zoom in a 1400 px window a figure is shown at (nearly) its own size: a
    figure sized for the column keeps its 8-10 pt labels at 11-14 px; one shrunk to fit
    shows them at 5 px. Its alt text says what it shows, not where the file is."""
    open_page(browser, site / "lessons" / f"{lesson.stem}.html")
    shown = figures(browser)
    assert shown, f"{lesson.stem}: no figure"
    shrunk = [f"{f['src']}: {f['natural']} px shown at {f['shown']:.0f}" for f in shown
              if f["natural"] and f["shown"] < 0.95 * f["natural"]]
    assert not shrunk, f"{lesson.stem}: figures shrunk to fit the column: {shrunk}"
    undescribed = [f["src"] for f in shown
                   if len(f["alt"]) < 15 or re.search(r"\.(png|gif|jpe?g|svg)$|/", f["alt"])]
    assert not undescribed, f"{lesson.stem}: figures without a description: {undescribed}"


@pytest.mark.parametrize("stem", SCREENSHOT_LESSONS)
def test_screenshots_of_lessons(site, browser, stem):
    """docs/_build/screenshots/<lesson>-top.png, -math.png, -figure.png."""
    page = site / "lessons" / f"{stem}.html"
    if not page.exists():
        pytest.skip(f"{stem} is not in the site")
    open_page(browser, page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    places = browser.evaluate("""(() => {
        const top = e => e ? e.getBoundingClientRect().top + window.scrollY - 80 : null;
        return {math: top(document.querySelector('.bd-article mjx-container[display="true"]')),
                figure: top(document.querySelector('.bd-article .cell_output img'))};
    })()""")
    saved = []
    for name, y in (("top", 0), ("math", places["math"]), ("figure", places["figure"])):
        if y is None:
            continue
        path = SCREENSHOTS / f"{stem}-{name}.png"
        browser.screenshot(path, y=max(0, y))
        saved.append(path)
    for path in saved:
        assert path.stat().st_size > 10_000, f"{path.name} is (nearly) empty"
    print("saved", ", ".join(str(p.relative_to(DOCS.parent)) for p in saved))
