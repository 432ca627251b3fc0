"""The themes report as a person sees it: rendered by headless Chromium, screenshot kept."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest
import sqlalchemy as sa
from matplotlib import image

from tests.conftest import ANCHOR, save_screenshot
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.warehouse import schema


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # the report reads the same rows either way
def test_the_report_renders_with_its_chart_projects_themes_and_quotes(pipeline, pipeline_emulator, browser):
    from selenium.webdriver.common.by import By

    pipeline.seed(FIRST_DAY, ANCHOR.date())
    with dg.instance_for_test() as instance:
        # The projects' names, as the daily projects-and-assignees job keeps them.
        names = next(a for a in pipeline.defs.assets if dg.AssetKey("projects") in a.keys)
        assert dg.materialize([names], resources=pipeline.defs.resources, instance=instance).success
        assert pipeline.themes(instance).success
    report = (pipeline.settings.report_dir / "themes.html").resolve()

    browser.get(report.as_uri())
    names = sorted(p["name"] for p in pipeline_emulator.store.list_projects())
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h1, h2")]
    assert headings == ["Usersnap feedback themes", "Trends", "All projects", *(f"Project: {n}" for n in names), "Themes"]
    chart = browser.find_element(By.CSS_SELECTOR, "img.chart")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart) > 500
    labels = {t["label"] for t in pipeline.warehouse.rows(schema.themes)}
    assert {h.text for h in browser.find_elements(By.CSS_SELECTOR, "section.theme h3")} == labels

    # Each section counts its own data points: the projects' add up to all of them, theme by theme.
    dp = schema.data_points.c
    counts = dict(pipeline.warehouse.fetch(sa.select(dp.project_id, sa.func.count()).where(
        dp.is_demo == sa.false(), dp.deleted_at.is_(None)).group_by(dp.project_id)))
    sections = browser.find_elements(By.CSS_SELECTOR, "section.scope")
    assert [s.get_attribute("id") for s in sections][0] == "all-projects"
    assert {s.get_attribute("id") for s in sections[1:]} == {f"project-{p}" for p in counts}

    def per_theme(section) -> dict[str, int]:
        return {row.get_attribute("data-theme"): int(row.find_elements(By.TAG_NAME, "td")[1].text)
                for row in section.find_elements(By.CSS_SELECTOR, "tr[data-theme]")}

    overall = per_theme(sections[0])
    projects = [per_theme(section) for section in sections[1:]]
    assert overall and all(projects)
    assert overall == {t: sum(p.get(t, 0) for p in projects) for t in overall}
    for section in sections:
        assert "% negative" in section.find_element(By.CSS_SELECTOR, "p.meta").text
        assert section.find_element(By.CSS_SELECTOR, "tr.other td").text == "Other / unclear"
        trends = [row.find_elements(By.TAG_NAME, "td")[-1].text for row in section.find_elements(
            By.CSS_SELECTOR, "tr[data-theme]")]
        assert trends == sorted(trends, key=lambda trend: trend != "rising"), "rising themes first"
    links = browser.find_elements(By.CSS_SELECTOR, "section.theme a")
    assert links and all(a.get_attribute("href").startswith("https://app.usersnap.com/l/feedback/") for a in links)

    shot = save_screenshot(browser, f"themes_report_{pipeline.warehouse.dialect}")
    pixels = image.imread(shot)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    assert float(np.std(pixels[..., :3])) > 0.05, "the screenshot is blank"
