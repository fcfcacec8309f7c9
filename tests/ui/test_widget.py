"""The drop-in widget on the sample shop page, served from another origin than the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import FileChooser, Page, expect

from plugin.config import Config
from tests.support.browser import (
    ApiServer,
    ShopSite,
    record_searches,
    screenshot,
    sent_searches,
)
from tests.support.images import degraded
from tests.support.scenes import ball_and_laptop

BUTTON = ".lookalike-widget >> button.photo"
PANEL = ".lookalike-widget >> .panel"


def test_the_photo_button_finds_a_demo_product_from_another_origin(
    page: Page, shop_site: ShopSite, search_server: ApiServer, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    assert shop_site.port != search_server.port
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    photo = tmp_path / "shoe.jpg"
    photo.write_bytes(degraded(products["Hi-Top Basketball Shoe"]["images"][0]))
    page.goto(shop_site.url + "/")

    button = page.locator(BUTTON)
    expect(button).to_have_attribute("aria-label", "Search by photo")
    with page.expect_file_chooser() as chooser:
        button.click()
    chooser.value.set_files(str(photo))

    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel.locator(".status")).to_contain_text("look like your photo", timeout=60_000)
    assert panel.locator("li strong").first.inner_text() == "Hi-Top Basketball Shoe"
    expect(button).to_have_attribute("aria-expanded", "true")
    assert not errors, errors  # no CORS refusal, no script error
    screenshot(page, "widget")

    panel.locator("button.close").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(button).to_be_focused()


def test_the_photo_search_takes_the_typed_words_and_the_shop_search_still_works(
    page: Page, shop_site: ShopSite, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    photo = tmp_path / "ball.jpg"
    photo.write_bytes(degraded(products["Tennis Ball"]["images"][0]))
    page.goto(shop_site.url + "/")

    page.fill("#shop-q", "tennis")
    with page.expect_file_chooser() as chooser:
        page.locator(BUTTON).click()
    chooser.value.set_files(str(photo))
    panel = page.locator(PANEL)
    expect(panel.locator(".status")).to_contain_text("and match “tennis”", timeout=60_000)
    assert panel.locator("li strong").first.inner_text() == "Tennis Ball"
    # The words count: typed "laptop" beside the same photo brings the laptop into the matches.
    assert "Laptop" not in panel.locator("li strong").all_inner_texts()
    page.fill("#shop-q", "laptop")
    with page.expect_file_chooser() as chooser:
        page.locator(BUTTON).click()
    chooser.value.set_files(str(photo))
    expect(panel.locator(".status")).to_contain_text("and match “laptop”", timeout=60_000)
    assert "Laptop" in panel.locator("li strong").all_inner_texts()

    # The shop's own search: its form, its script, its results; the widget does not get in the way.
    page.fill("#shop-q", "laptop")
    page.press("#shop-q", "Enter")
    expect(page.locator("#shop-heading")).to_have_text("1 results for “laptop”")
    expect(page.locator("#shop-results li")).to_have_text(["Laptop — $1,299"])
    assert page.url.startswith(shop_site.url)  # no navigation away from the shop


def test_the_widget_is_reachable_by_keyboard(page: Page, shop_site: ShopSite) -> None:
    choosers: list[FileChooser] = []
    # Listening turns on Playwright's file-chooser interception; do it well before the key press,
    # which (unlike a click) leaves no time for that to take effect.
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.goto(shop_site.url + "/")
    page.focus("#shop-q")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className + '|' + (document.activeElement.shadowRoot && document.activeElement.shadowRoot.activeElement ? document.activeElement.shadowRoot.activeElement.getAttribute('aria-label') : '')")
    assert focused == "lookalike-widget|Search by photo"
    page.keyboard.press("Enter")
    expect(page.locator(BUTTON)).to_be_focused()
    for _ in range(50):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Enter on the focused photo button opens the file chooser"


def test_the_widget_draws_the_objects_in_the_photo_and_one_click_searches_that_object(
    page: Page, shop_site: ShopSite, shop_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    scene = ball_and_laptop(shop_config.data_dir, products, tmp_path / "drum.jpg")
    record_searches(page)
    page.goto(shop_site.url + "/")
    with page.expect_response(lambda response: response.url.endswith("/search")) as answered:
        with page.expect_file_chooser() as chooser:
            page.locator(BUTTON).click()
        chooser.value.set_files(str(tmp_path / "drum.jpg"))
    detection = answered.value.json()["detection"]
    boxes = detection["boxes"]
    panel = page.locator(PANEL)
    expect(panel.locator(".status")).to_contain_text("look like your photo", timeout=60_000)
    automatic = panel.locator("li strong").all_inner_texts()

    # The photo shows in the panel with a toggle button over each object; the one searched is pressed.
    expect(panel.get_by_role("img", name="Your photo")).to_be_visible()
    objects = panel.get_by_role("group", name="Objects found in your photo").get_by_role("button")
    expect(objects).to_have_count(len(boxes))
    for index, found in enumerate(boxes):
        expect(objects.nth(index)).to_have_accessible_name(f"Search the {found['label'].replace('_', ' ')} ({index + 1} of {len(boxes)})")
        expect(objects.nth(index)).to_have_attribute("aria-pressed", "true" if index == detection["searched"] else "false")

    # One click on the box over the product the photo's own search did not pick searches that box alone.
    searched = None if detection["searched"] is None else scene.product_under(boxes[detection["searched"]]["box"])
    index, title = next(
        (i, scene.product_under(found["box"])) for i, found in enumerate(boxes) if scene.product_under(found["box"]) not in (None, searched)
    )
    objects.nth(index).click()
    expect(panel.locator(".status")).to_contain_text("look like the object you chose", timeout=60_000)
    sent = sent_searches(page)[-1]
    assert sent["photo"] and sent["query"]["crop"] == boxes[index]["box"]
    assert panel.locator("li strong").first.inner_text() == title
    expect(objects).to_have_count(len(boxes))
    expect(objects.nth(index)).to_have_attribute("aria-pressed", "true")

    # The same button again lets go of the object: the photo's own search, its results as before.
    objects.nth(index).click()
    expect(panel.locator(".status")).to_contain_text("look like your photo", timeout=60_000)
    assert "crop" not in sent_searches(page)[-1]["query"]
    assert panel.locator("li strong").all_inner_texts() == automatic
