"""The Dagster UI of the real deployment in headless Chromium: the asset graph, an asset's
partitions, and the data points' latest materialization with its row count. Screenshots are kept
in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from tests.conftest import save_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
IMPORT_ASSETS = ["raw_feedback", "data_points"]


def _page_text(browser, url: str, expected: list[str], *, timeout: float = 90) -> str:
    """Open ``url`` and wait until every expected string is on the rendered page."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    text = ""

    def shows_everything(driver) -> bool:
        nonlocal text
        # A first visit gets Dagster's "Join the community" dialog over the page: skip it.
        for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            button.click()
        text = driver.find_element(By.TAG_NAME, "body").text
        return all(item in text for item in expected) and "Join the Dagster community" not in text

    try:
        WebDriverWait(browser, timeout, poll_frequency=1).until(shows_everything)
    except TimeoutException:
        save_screenshot(browser, "ui_timeout")
        missing = [item for item in expected if item not in text]
        raise AssertionError(f"{url} never showed {missing}; page text: {text[:1500]!r}") from None
    return text


def test_the_asset_graph_shows_every_asset_of_the_import(deployment, backfilled, browser):
    browser.set_window_size(2000, 2000)  # the graph renders only the nodes in view: show them all
    _page_text(browser, f"{deployment.url}/locations/usersnap_pipeline/asset-groups/usersnap/lineage", IMPORT_ASSETS)
    assert save_screenshot(browser, "ui_asset_graph").stat().st_size > 20_000


def test_the_partitions_page_shows_the_imported_days(deployment, backfilled, browser):
    browser.set_window_size(1600, 1000)
    first, last = backfilled["partitions"][0], backfilled["partitions"][-1]
    text = _page_text(browser, f"{deployment.url}/assets/raw_feedback?view=partitions", ["raw_feedback", last])
    save_screenshot(browser, "ui_raw_feedback_partitions")
    assert "Materialized" in text and first in text, text[:2000]


def test_the_latest_data_points_materialization_shows_its_row_count(deployment, backfilled, browser):
    from tests.deployment.conftest import latest_metadata

    browser.set_window_size(1600, 1000)
    latest = latest_metadata(deployment, "data_points")
    text = _page_text(browser, f"{deployment.url}/assets/data_points?view=events",
                      ["data_points", latest["partition"], "dagster/row_count"])
    save_screenshot(browser, "ui_data_points_materialization")
    rows = latest["dagster/row_count"]
    assert rows > 0 and any(f"dagster/row_count\n{shown}" in text for shown in (str(rows), f"{rows:,}")), text[:3000]


def test_the_data_points_asset_shows_its_column_schema(deployment, browser):
    """The column schema comes from the warehouse's own table definition (dagster/column_schema)."""
    from usersnap_pipeline.warehouse import schema

    browser.set_window_size(1600, 2400)
    columns = [column.name for column in schema.data_points.columns]
    text = _page_text(browser, f"{deployment.url}/assets/data_points?view=overview",
                      ["Columns", *columns, schema.data_points.c.rating.comment])
    save_screenshot(browser, "ui_data_points_columns")
    assert "float" in text, text[:3000]


def test_the_theme_report_materialization_shows_its_chart(deployment, themes_run, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1600, 1400)
    _page_text(browser, f"{deployment.url}/assets/theme_report?view=events", ["theme_report", "trends_chart",
                                                                              "top_themes"])
    from selenium.webdriver.support.ui import WebDriverWait

    # Markdown metadata opens in a dialog from its row.
    browser.find_element(By.XPATH, "//tr[td[normalize-space()='trends_chart']]//*[contains(text(), 'Show Markdown')]"
                         ).click()
    charts = WebDriverWait(browser, 30).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, "img[src^='data:image/png']"))
    browser.execute_script("arguments[0].scrollIntoView()", charts[0])
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", charts[0]) > 500
    save_screenshot(browser, "ui_theme_report_chart")
