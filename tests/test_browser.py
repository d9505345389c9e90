"""The HTML report opened as a person would: in headless Chromium, with the network off.

A small task whose test texts (and description) try to run script, three
cheap strategies (majority, tfidf tuned, knn tuned, at two label budgets and
two seeds) and one trained one (head-only), run by the real `bench run`; then
the page `bench report` wrote is opened in Debian's chromium, driven by
Selenium through Debian's chromedriver (no browser is downloaded). The page
must load with no console errors and no request of any kind, every table must
have rows, a click on a column header sorts it, a click on a row or a plot
point opens that run's details, and the hostile texts must show as text
without running.

Needs the `chromium` and `chromium-driver` Debian packages (`.ci/run`
installs them); without them these tests fail, saying so, rather than skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import run_bench, write_csv

pytestmark = pytest.mark.slow

HOSTILE = ['<script>window.__pwned = "script"</script> I loved it',
           '<img src=x onerror="window.__pwned = \'img\'"> a great film',
           '</script><script>window.__pwned = "breakout"</script> brilliant & funny']
GOOD = ["a wonderful, moving film", "great acting and a great story", "I loved every minute", "brilliant and funny"]
BAD = ["a dull, boring mess", "terrible acting and a weak plot", "I hated every minute", "awful and far too long"]


def _rows(n: int, start: int) -> list[tuple[str, str]]:
    rows = []
    for i in range(start, start + n):
        rows += [(f"{GOOD[i % 4]} (review {i})", "good"), (f"{BAD[i % 4]} (review {i})", "bad")]
    return rows


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """index.html of a results folder run by the real commands on the hostile task."""
    folder = tmp_path_factory.mktemp("hostile")
    write_csv(folder / "train.csv", _rows(8, 0) + [("the worst film of the year (review 99)", "bad")])
    write_csv(folder / "test.csv", _rows(3, 100) + [(text, "good") for text in HOSTILE])
    (folder / "hostile.toml").write_text(
        'name = "hostile"\ndescription = "texts that try to run <script>window.__pwned = \\"card\\"</script>"\n'
        'path = "train.csv"\ntest_path = "test.csv"\n')
    for args in (["--strategies", "majority", "tfidf", "knn", "--seeds", "0", "1", "--budgets", "2", "all",
                  "--tune", "2"],
                 ["--strategies", "head-only", "--seeds", "0", "--no-baseline"],
                 ["--strategies", "majority", "knn", "--budgets", "4", "--update", "0.5", "--no-baseline"]):
        result = run_bench("run", "--tasks", "hostile.toml", *args, "--results", "results", cwd=folder)
        assert result.returncode == 0, result.stderr
    # from elsewhere: the card's data paths, recorded relative to where it ran, are found beside the results
    result = run_bench("report", "--results", str(folder / "results"), cwd=folder.parent)
    assert result.returncode == 0, result.stderr
    return folder / "results" / "index.html"


def _needed(name: str, env: str, *candidates: str) -> str:
    found = os.environ.get(env) or next((p for p in map(shutil.which, candidates) if p), None)
    if not found:
        pytest.fail(f"the browser tests need {name}, which is not installed here: on Debian, "
                    "`apt-get install chromium chromium-driver` (.ci/run does this), or point "
                    f"{env} at it", pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the browser tests need selenium: pip install -e '.[test]'", pytrace=False)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = _needed("Debian's chromium", "BENCH_CHROMIUM", "chromium", "chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                 "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(_needed("chromedriver (Debian's chromium-driver)", "BENCH_CHROMEDRIVER", "chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    yield driver
    driver.quit()


@pytest.fixture
def opened(browser, page):
    """The page, loaded afresh, its plots drawn; afterwards, the console must hold no error."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")  # what earlier tests left
    browser.get(page.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "const plots = document.querySelectorAll('div.plot');"
        "return plots.length > 0 && Array.from(plots).every((p) => p.querySelector('.main-svg'));"))
    yield browser
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    assert browser.execute_script("return window.__pwned") is None


def _css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _dialog(driver) -> str:
    """The open details view's text (waits for it to open)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.getElementById('details').open"))
    return _css(driver, "#details-body")[0].text


def _close(driver):
    driver.execute_script("document.getElementById('details').close()")


def test_the_page_loads_offline_with_every_table_filled(opened):
    assert opened.execute_script("return performance.getEntriesByType('resource').length") == 0  # nothing fetched
    tables = _css(opened, "table.sortable")
    kinds = [t.get_attribute("class").split()[1] for t in tables]
    assert kinds == ["leaderboard", "curve", "runs", "scenario"]  # the last: keeping up (the --update cells)
    for table in tables:
        assert len(table.find_elements("css selector", "tbody tr")) >= 2, table.get_attribute("class")
    update = [r.text for r in _css(opened, "table.scenario tbody tr")]
    assert len(update) == 2 and update[0].startswith("knn") and update[1].startswith("majority")
    leaderboard = _css(opened, "table.leaderboard tbody tr")
    names = [row.find_elements("css selector", "td")[0].text for row in leaderboard]
    assert any(n.startswith("majority") and "baseline" in n for n in names)  # the baseline, marked
    assert any("≈" in row.text for row in leaderboard)  # and the within-noise marks
    assert any(n.startswith("tfidf (tuned)") for n in names)
    assert len(_css(opened, 'div.plot[data-figure="budget"] .legend .traces')) == 4  # one entry per row's variant
    runs = _css(opened, "table.runs tbody tr")
    assert len(runs) == 4 + 3 + 3 + 1  # majority: 2 budgets x 2 seeds; tfidf and knn: 2 seeds at 2/class, once with all


def test_a_click_on_a_column_header_sorts_it(opened):
    table = _css(opened, "table.leaderboard")[0]
    headers = table.find_elements("css selector", "thead th")
    column = [h.text for h in headers].index("accuracy")

    def values():
        rows = table.find_elements("css selector", "tbody tr")
        return [float(r.find_elements("css selector", "td")[column].get_attribute("data-sort")) for r in rows]

    headers[column].find_element("css selector", "button").click()
    assert headers[column].get_attribute("aria-sort") == "descending" and values() == sorted(values(), reverse=True)
    headers[column].find_element("css selector", "button").click()
    assert headers[column].get_attribute("aria-sort") == "ascending" and values() == sorted(values())
    headers[0].find_element("css selector", "button").click()
    names = [r.find_elements("css selector", "td")[0].get_attribute("data-sort").lower()
             for r in table.find_elements("css selector", "tbody tr")]
    assert names == sorted(names) and headers[column].get_attribute("aria-sort") == "none"

    scenario = _css(opened, "table.scenario")[0]  # the keeping-up table sorts the same way
    for order in ("ascending", "descending"):
        scenario.find_elements("css selector", "thead th button")[0].click()
        names = [r.find_elements("css selector", "td")[0].get_attribute("data-sort")
                 for r in scenario.find_elements("css selector", "tbody tr")]
        assert names == sorted(names, reverse=order == "descending")

    _css(opened, "details.every-run summary")[0].click()  # the runs table, by seed, then filtered
    runs = _css(opened, "table.runs")[0]
    seed = [h.text for h in runs.find_elements("css selector", "thead th")].index("seed")
    runs.find_elements("css selector", "thead th button")[seed].click()
    seeds = [int(r.find_elements("css selector", "td")[seed].text)
             for r in runs.find_elements("css selector", "tbody tr")]
    assert seeds == sorted(seeds, reverse=True)
    _css(opened, "input.filter-runs")[0].send_keys("knn")
    shown = [r for r in runs.find_elements("css selector", "tbody tr") if r.is_displayed()]
    assert len(shown) == 3 and all(r.text.startswith("knn") for r in shown)


def test_opening_a_row_or_a_plot_point_shows_that_run(opened):
    from selenium.webdriver.common.action_chains import ActionChains

    rows = {r.find_elements("css selector", "td")[0].text.split("\n")[0]: r
            for r in _css(opened, "table.leaderboard tbody tr")}
    rows["tfidf (tuned) baseline"].click()
    text = _dialog(opened)
    for words in ("hostile / tfidf / - / all labels / seed 0 / tuned", "Results and costs", "Confusion matrix",
                  "Tuning", "Every configuration tried", "validation accuracy %", "Configuration", "Provenance"):
        assert words in text
    assert len(_css(opened, "#details table.trials tbody tr")) == 2
    assert "#run=" in opened.current_url
    _close(opened)

    rows["head-only"].click()
    assert "Training curves" in _dialog(opened)
    assert _css(opened, "#details .plot.curves .main-svg")  # drawn by plotly inside the dialog
    _close(opened)

    point = _css(opened, 'div.plot[data-figure="cost"] .scatterlayer .point')[0]
    opened.execute_script("arguments[0].scrollIntoView({block: 'center'})", point)
    ActionChains(opened).move_to_element(point).pause(0.3).click().perform()
    title = _dialog(opened).split("\n")[0]
    assert title.startswith("hostile / ")  # the point's run
    link = opened.current_url
    _close(opened)

    opened.get("about:blank")
    opened.get(link)  # a link to one run opens it
    assert _dialog(opened).split("\n")[0] == title


def test_hostile_texts_show_as_text_and_never_run(opened):
    assert "texts that try to run <script>" in _css(opened, "p.about")[0].text
    assert opened.execute_script("return document.scripts.length") == 3  # the data, plotly.js and the page's own
    majority = next(r for r in _css(opened, "table.leaderboard tbody tr") if r.text.startswith("majority"))
    majority.click()
    _dialog(opened)
    texts = [p.text for p in _css(opened, "#details ol.wrong p.text")]
    for hostile in HOSTILE:
        assert hostile in texts  # shown exactly, as text
    assert opened.execute_script("return document.images.length") == 0
    assert not _css(opened, "#details ol.wrong script, #details ol.wrong img")
    search = _css(opened, "#details input.search-wrong")[0]
    search.send_keys("onerror")
    shown = [li for li in _css(opened, "#details ol.wrong li") if li.is_displayed()]
    assert len(shown) == 1 and HOSTILE[1] in shown[0].text
    assert _css(opened, "#details p.count")[0].text.startswith("1 of ")
