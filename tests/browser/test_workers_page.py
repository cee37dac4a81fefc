"""The admin Workers page: linked for admins only, it lists the live worker of ``mlw serve``."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import sign_in


def test_an_admin_follows_the_header_link_to_the_live_workers(page: Page, live_server: LiveServer) -> None:
    token = (live_server.data_dir / "admin-token").read_text().strip()
    sign_in(page, live_server.url, token)
    link = page.get_by_role("link", name="Workers")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"/admin/workers$"))
    expect(page.get_by_role("heading", name="Workers")).to_be_visible()
    row = page.locator("tbody tr").first
    expect(row).to_be_visible(timeout=30_000)
    cells = row.locator("td")
    expect(cells.nth(3)).to_have_text("prefork")
    expect(cells.nth(4)).to_have_text(re.compile(r"^\d+$"))
    expect(cells.nth(6)).not_to_have_text("—")
    expect(link).to_have_attribute("aria-current", "page")


def test_a_user_who_is_not_an_admin_sees_no_workers_link_and_no_workers(
    page: Page, live_server: LiveServer, user_token: str
) -> None:
    sign_in(page, live_server.url, user_token, "/user/training-jobs")
    expect(page.get_by_role("heading", name="My training jobs")).to_be_visible()
    expect(page.get_by_role("link", name="Workers")).to_be_hidden()
    page.goto(live_server.url + "/admin/workers")
    expect(page.get_by_role("alert")).to_contain_text("only admins may list workers")
    expect(page.locator("tbody tr")).to_have_count(0)
