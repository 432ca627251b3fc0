"""The themes report as a person sees it: rendered by headless Chromium, screenshot kept."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest
from matplotlib import image

from tests.conftest import ANCHOR, save_screenshot
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.warehouse import schema


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # the report reads the same rows either way
def test_the_report_renders_with_its_chart_themes_and_quotes(pipeline, browser):
    from selenium.webdriver.common.by import By

    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        assert pipeline.themes(instance).success
    report = (pipeline.settings.report_dir / "themes.html").resolve()

    browser.get(report.as_uri())
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h1, h2")]
    assert headings == ["Usersnap feedback themes", "Trends", "Themes"]
    chart = browser.find_element(By.CSS_SELECTOR, "img.chart")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart) > 500
    labels = {t["label"] for t in pipeline.warehouse.rows(schema.themes)}
    assert {h.text for h in browser.find_elements(By.CSS_SELECTOR, "section.theme h3")} == labels
    assert browser.find_element(By.CSS_SELECTOR, "tr.other td").text == "Other / unclear"
    links = browser.find_elements(By.CSS_SELECTOR, "section.theme a")
    assert links and all(a.get_attribute("href").startswith("https://app.usersnap.com/l/feedback/") for a in links)

    shot = save_screenshot(browser, f"themes_report_{pipeline.warehouse.dialect}")
    pixels = image.imread(shot)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    assert float(np.std(pixels[..., :3])) > 0.05, "the screenshot is blank"
