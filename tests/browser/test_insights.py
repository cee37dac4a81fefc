"""Insights in headless Chromium: a 300-round XGBoost curve grows live on the canvas, then the
job page shows the same curve before and after a reload, with the explain stage's findings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import build_pipeline, docs_screenshot, run_training, sign_in, wait_for_status

pytestmark = pytest.mark.browser

COUNTS_SCRIPT = """
window.__counts = [];
new MutationObserver(() => {
  const fig = document.querySelector('.node-insight .learning-curve');
  const count = fig ? Number(fig.dataset.count) : null;
  if (count !== null && window.__counts[window.__counts.length - 1] !== count) window.__counts.push(count);
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-count']});
"""


_DATA_URL = "const url = c ? c.toDataURL() : null"
SETTLED_SCRIPT = f"""
async (c) => {{
  // uPlot commits its drawing in a later task; two animation frames with equal pixels mean it is drawn.
  const frame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  const blank = Object.assign(document.createElement("canvas"), {{width: c.width, height: c.height}}).toDataURL();
  let previous = null;
  for (let i = 0; i < 100; i += 1) {{
    await frame();
    {_DATA_URL};
    if (url === previous && url !== blank) return url;
    previous = url;
  }}
  return null;
}}
"""


def _drawn(figure: Locator) -> str:
    """The learning curve's canvas as a PNG data URL, once uPlot has finished drawing it."""
    url = figure.locator("canvas").first.evaluate(SETTLED_SCRIPT)
    assert isinstance(url, str) and url.startswith("data:image/png"), url
    return url


@pytest.fixture(scope="module")
def large_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 noisy rows: a 300-round XGBoost fit takes seconds, long enough to watch."""
    rng = np.random.default_rng(11)
    n = 20_000
    x = rng.normal(size=(n, 12))
    label = ((x[:, 0] + 0.5 * x[:, 1] - x[:, 2] + rng.normal(scale=1.5, size=n)) > 0).astype(int)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(12)])
    frame["label"] = label
    path = tmp_path_factory.mktemp("big") / "large.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.timeout(300)
def test_a_300_round_curve_grows_live_and_the_job_page_shows_the_same_curve_after_a_reload(
    page: Page, live_server: LiveServer, user_token: str, large_csv: Path
) -> None:
    sign_in(page, live_server.url, user_token)
    build_pipeline(page, large_csv)
    page.get_by_label("Model family").select_option("xgboost")
    page.get_by_label("n_estimators").fill("300")
    page.evaluate(COUNTS_SCRIPT)
    run_training(page)

    panel_curve = page.locator(".node-insight .learning-curve")
    expect(panel_curve).to_be_visible(timeout=60_000)
    wait_for_status(page, "train-model-1", "succeeded", timeout_ms=180_000)
    expect(panel_curve).to_have_attribute("data-count", "300", timeout=20_000)
    counts = page.evaluate("window.__counts")
    growing = [c for c in counts if 0 < c < 300]
    assert len(growing) >= 2, f"the curve should grow in several live updates, saw {counts}"
    assert counts == sorted(counts), counts
    # The three informative features lead, in some order.
    expect(page.locator(".node-insight .insight-headline")).to_contain_text(
        re.compile(r"Top features: f[012], f[012], f[012] · ROC AUC 0\.\d+"))
    expect(panel_curve.locator("canvas").first).to_be_visible()

    page.get_by_role("link", name="All insights on the job page →").click()
    curve = page.locator("section .learning-curve")
    expect(curve).to_have_attribute("data-count", "300")
    caption = curve.locator("figcaption")
    expect(caption).to_contain_text("After 300 rounds: train log loss")
    before = caption.inner_text()
    pixels = _drawn(curve)
    expect(page.locator("table.importance-table tbody tr")).to_have_count(12)
    expect(page.get_by_role("img", name="ROC curve")).to_be_visible()
    expect(page.get_by_role("img", name="Calibration")).to_be_visible()

    page.reload()
    expect(curve).to_have_attribute("data-count", "300")
    expect(curve).to_have_attribute("data-last", "300")
    expect(caption).to_have_text(before)
    expect(curve.locator("canvas").first).to_be_visible()
    # The same stored points drawn again give the very same pixels: every point of every series.
    same = f"([sel, want]) => {{ const c = document.querySelector(sel); {_DATA_URL}; return url === want; }}"
    page.wait_for_function(same, arg=["section .learning-curve canvas", pixels], timeout=20_000)
    docs_screenshot(page, "ui-insights.png", full_page=True)
