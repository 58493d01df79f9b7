"""The pages in a real headless Chromium (Debian's, driven by Playwright) against a real gateway, router and Redis.

A customer chats from /chat, an agent answers from /agent, and the wallboard follows both. Screenshots of
every step are saved in the test's tmp_path (printed; run with ``-s`` to see the path).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from router.config import loads
from tests.gateway.stack import Stack, gateway_config, gateway_yaml

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium "
            "(apt-get install chromium, or run `make test`, which installs it)",
            pytrace=False,
        )
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


class Shots:
    """Numbered screenshots of the pages in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    async def take(self, page: Page, name: str) -> None:
        self.n += 1
        await page.screenshot(path=self.folder / f"{self.n:02d}-{name}.png", full_page=True)


async def new_page(browser: Browser, url: str, errors: list[str]) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(f"{url}: {exc}"))
    await page.goto(url)
    return page


async def test_customer_and_agent_chat_in_the_browser_and_the_wallboard_follows(
    browser: Browser, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    shots = Shots(tmp_path)
    print(f"\nscreenshots: {tmp_path}")
    errors: list[str] = []
    expect.set_options(timeout=TIMEOUT_MS)
    async with Stack(gateway_config(tenant), redis_url) as s:
        # The wallboard on a TV: credentials in the URL.
        board = await new_page(browser, f"{s.http}/wallboard?supervisor=boss&token=tok-boss", errors)
        await expect(board.get_by_test_id("wb-waiting-sales")).to_have_text("0")
        await expect(board.get_by_test_id("wb-state-a1")).to_have_text("offline")
        await shots.take(board, "wallboard-empty")

        # The customer opens the widget and writes.
        chat = await new_page(browser, f"{s.http}/chat", errors)
        await chat.get_by_label("Your name").fill("Maria")
        await chat.get_by_label("Email (optional)").fill("maria@example.com")
        await chat.get_by_label("Topic").select_option("buying")
        await chat.get_by_label("How can we help?").fill("I want the 5G plan")
        await chat.get_by_test_id("chat-start").click()
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("number 1 in line")
        await expect(chat.get_by_test_id("chat-transcript")).to_contain_text("I want the 5G plan")
        await shots.take(chat, "customer-waiting")
        await expect(board.get_by_test_id("wb-waiting-sales")).to_have_text("1")
        await shots.take(board, "wallboard-one-waiting")

        # The agent logs in, goes available and gets the offer with the customer's details.
        desk = await new_page(browser, f"{s.http}/agent", errors)
        await desk.get_by_label("Agent id").fill("a1")
        await desk.get_by_label("Token").fill("wrong")
        await desk.get_by_test_id("agent-login").click()
        await expect(desk.get_by_test_id("agent-notice")).to_contain_text("wrong token")
        await expect(desk.get_by_test_id("agent-login")).to_be_visible()
        await desk.get_by_label("Token").fill("tok-a1")
        await desk.get_by_test_id("agent-login").click()
        await expect(desk.get_by_test_id("agent-who")).to_contain_text("Ana Souza")
        await desk.get_by_test_id("go-available").click()
        offer = desk.get_by_test_id("offer")
        await expect(offer).to_be_visible()
        await expect(offer).to_contain_text("Maria")
        await expect(offer).to_contain_text("maria@example.com")
        await expect(offer).to_contain_text("I want the 5G plan")
        await expect(desk.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^\d+ s$"))
        await shots.take(desk, "agent-offer")
        await desk.get_by_test_id("offer-accept").click()
        await expect(offer).to_have_count(0)
        pane = desk.get_by_test_id("pane")
        await expect(pane).to_be_visible()
        await expect(pane.get_by_test_id("pane-transcript")).to_contain_text("I want the 5G plan")

        # The customer hears the agent joined; the wallboard shows the queue empty and the agent busy.
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("Ana joined")
        await expect(board.get_by_test_id("wb-waiting-sales")).to_have_text("0")
        await expect(board.get_by_test_id("wb-state-a1")).to_have_text("busy")
        await shots.take(board, "wallboard-agent-busy")

        # The customer's profile: the email from the form; the agent links the phone the customer gives.
        profile = pane.get_by_test_id("profile")
        await profile.locator("summary").click()
        await expect(profile.get_by_test_id("profile-ids")).to_contain_text("email:maria@example.com")
        await profile.get_by_test_id("profile-kind").select_option("phone")
        await profile.get_by_test_id("profile-value").fill("+1 212 555 0199")
        await profile.get_by_test_id("profile-link").click()
        await expect(profile.get_by_test_id("profile-ids")).to_contain_text("phone:+1 212 555 0199")
        linked_to = await s.gateway.profiles.identify({"phone": "+12125550199"}, strict=False)
        assert "email:maria@example.com" in (await s.gateway.profiles.profile(linked_to)).to_json()["identifiers"]

        # Messages both ways.
        await pane.get_by_test_id("pane-text").fill("Hi Maria, the 5G plan is 30 a month.")
        await pane.get_by_test_id("pane-send").click()
        await expect(chat.get_by_test_id("chat-transcript")).to_contain_text("Hi Maria, the 5G plan is 30 a month.")
        await chat.get_by_test_id("chat-text").fill("Great, I'll take it")
        await chat.get_by_test_id("chat-send").click()
        await expect(pane.get_by_test_id("pane-transcript")).to_contain_text("Great, I'll take it")
        await shots.take(chat, "customer-chatting")

        # The agent's connection drops: the page reconnects, logs in again and the server resumes the session.
        await s.gateway.agents["a1"].ws.close()
        await expect(desk.get_by_test_id("agent-notice")).to_contain_text("Session resumed")
        await expect(pane).to_have_count(1)
        await pane.get_by_test_id("pane-text").fill("Still here after a reconnect")
        await pane.get_by_test_id("pane-send").click()
        await expect(chat.get_by_test_id("chat-transcript")).to_contain_text("Still here after a reconnect")
        await shots.take(desk, "agent-resumed")

        # A reload keeps the conversation (contact and session in sessionStorage).
        await chat.reload()
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("chatting with an agent")
        await expect(chat.get_by_test_id("chat-transcript")).to_contain_text("Hi Maria, the 5G plan is 30 a month.")
        await chat.get_by_test_id("chat-text").fill("Sent after a reload")
        await chat.get_by_test_id("chat-send").click()
        await expect(pane.get_by_test_id("pane-transcript")).to_contain_text("Sent after a reload")
        await shots.take(desk, "agent-chatting")

        # The agent completes with a disposition; the customer is asked for a score.
        await pane.get_by_test_id("pane-disposition").select_option("sold")
        await pane.get_by_test_id("pane-note").fill("5G plan")
        await pane.get_by_test_id("pane-complete").click()
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("ended")
        await chat.get_by_test_id("survey-5").click()
        await expect(chat.get_by_test_id("survey-done")).to_be_visible()
        await shots.take(chat, "customer-survey")
        await shots.take(desk, "agent-completed")

        contact_id = await chat.evaluate("JSON.parse(sessionStorage.getItem('omniroute.chat')).contact")
        record = await s.store.contact(contact_id)
        assert record["state"] in ("wrapup", "done") and record["agent"] == "a1", record
        assert record["channel"] == "chat" and record["queue"] == "sales", record
        assert record.get("disposition") == "sold", record
        await expect(board.get_by_test_id("wb-answered-sales")).to_have_text("1")
        await expect(board.get_by_test_id("wb-csat")).to_have_text("100%")  # one survey, a 5
        await expect(board.get_by_test_id("wb-fcr")).to_have_text("100%")  # handled, no repeat contact yet
        await shots.take(board, "wallboard-answered")

        # The agent takes a break; the wallboard shows it.
        await desk.get_by_label("Away reason").select_option("lunch")
        await desk.get_by_test_id("go-away").click()
        await expect(desk.get_by_test_id("agent-state")).to_have_text("away · lunch")
        await expect(board.get_by_test_id("wb-state-a1")).to_have_text("away")
        await expect(board.locator("tr[data-agent=a1]")).to_contain_text("lunch")
        await shots.take(board, "wallboard-agent-away")
    assert not errors, errors
    assert len(list(tmp_path.glob("*.png"))) == shots.n


async def test_reject_transfer_and_a_customer_leaving_in_the_browser(
    browser: Browser, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    shots = Shots(tmp_path)
    print(f"\nscreenshots: {tmp_path}")
    errors: list[str] = []
    expect.set_options(timeout=TIMEOUT_MS)
    with_wrapup = loads(gateway_yaml(tenant).replace("no_answer_delay: 0,", "no_answer_delay: 0, wrapup: 120,"))
    assert with_wrapup.routing.wrapup == 120
    async with Stack(with_wrapup, redis_url) as s:
        chat = await new_page(browser, f"{s.http}/chat", errors)
        await chat.get_by_label("Your name").fill("Joao")
        await chat.get_by_label("Topic").select_option("help")
        await chat.get_by_label("How can we help?").fill("No signal at home")
        await chat.get_by_test_id("chat-start").click()
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("in line")

        desk = await new_page(browser, f"{s.http}/agent", errors)
        await desk.get_by_label("Agent id").fill("a1")
        await desk.get_by_label("Token").fill("tok-a1")
        await desk.get_by_test_id("agent-login").click()
        await desk.get_by_test_id("go-available").click()
        offer = desk.get_by_test_id("offer")
        await expect(offer).to_contain_text("support")
        first = await offer.get_attribute("data-contact")
        rejected = await offer.get_attribute("data-offer")

        # Reject: the card goes; the contact is offered again (a1 is the only agent; no reject delay here).
        await desk.get_by_test_id("offer-reject").click()
        await expect(desk.locator(f'[data-testid=offer]:not([data-offer="{rejected}"])')).to_have_count(1)
        await expect(offer).to_have_count(1)
        await expect(offer).to_contain_text("No signal at home")
        assert await offer.get_attribute("data-contact") == first
        await desk.get_by_test_id("offer-accept").click()
        pane = desk.get_by_test_id("pane")
        await expect(pane).to_be_visible()
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("Ana joined")

        # Transfer to sales: the pane closes, the customer is told, the contact is in sales.
        await pane.get_by_test_id("pane-transfer-queue").fill("sales")
        await pane.get_by_test_id("pane-transfer").click()
        await expect(pane).to_have_count(0)
        await expect(desk.get_by_test_id("agent-notice")).to_contain_text("Transferred to sales")
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("transferred")
        await shots.take(chat, "customer-transferred")
        assert (await s.store.contact(first))["queue"] == "sales"

        # Transfer to a queue that doesn't exist: the server's error is shown.
        await expect(offer).to_be_visible()
        await desk.get_by_test_id("offer-accept").click()
        await pane.get_by_test_id("pane-transfer-queue").fill("nowhere")
        await pane.get_by_test_id("pane-transfer").click()
        await expect(desk.get_by_test_id("agent-notice")).to_contain_text("no queue 'nowhere'")
        await expect(pane).to_have_count(1)
        await shots.take(desk, "agent-transfer-error")

        # The customer leaves while connected: the agent sees it and completes.
        await chat.get_by_test_id("chat-leave").click()
        await expect(pane.get_by_test_id("pane-transcript")).to_contain_text("The customer left the chat.")
        await pane.get_by_test_id("pane-complete").click()
        await expect(chat.get_by_test_id("chat-status")).to_contain_text("ended")
        await shots.take(chat, "customer-ended")

        # Wrap-up (120 s here) can be ended early from the pane.
        await expect(pane.get_by_test_id("pane-status")).to_contain_text("in wrap-up")
        assert (await s.store.contact(first))["state"] == "wrapup"
        await shots.take(desk, "agent-wrapup")
        await pane.get_by_test_id("pane-end-wrapup").click()
        await expect(pane).to_have_count(0)
        assert (await s.store.contact(first)).get("state", "done") == "done"
    assert not errors, errors


async def test_an_agent_transfers_a_call_to_a_sip_uri_from_the_desktop(
    browser: Browser, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    """The pane of a call takes a SIP URI as a transfer target: off the allow-list the server's refusal is
    shown and the call stays; on it the contact completes ``transferred`` and the pane goes to wrap-up.
    (No SIP here: tests/telephony/test_transfer_out.py has the worker's side.)"""
    shots = Shots(tmp_path)
    print(f"\nscreenshots: {tmp_path}")
    errors: list[str] = []
    expect.set_options(timeout=TIMEOUT_MS)
    allow = """
ivr:
  transfer_allow: ["sip:*@partner.example"]
  flows: {main: {start: q, nodes: {q: {type: queue, queue: sales}}}}
"""
    config = loads(gateway_yaml(tenant, extra=allow).replace("no_answer_delay: 0,", "no_answer_delay: 0, wrapup: 120,"))
    async with Stack(config, redis_url) as s:
        desk = await new_page(browser, f"{s.http}/agent", errors)
        await desk.get_by_label("Agent id").fill("a1")
        await desk.get_by_label("Token").fill("tok-a1")
        await desk.get_by_test_id("agent-login").click()
        await desk.get_by_test_id("go-available").click()
        await s.store.enqueue("call1", "sales", "voice", s.gateway.clock(), attrs={"caller_id": "+12025550170"})
        await desk.get_by_test_id("offer-accept").click()
        pane = desk.get_by_test_id("pane")
        await expect(pane).to_be_visible()
        target = pane.get_by_test_id("pane-transfer-queue")
        await expect(target).to_have_attribute("placeholder", "queue or sip:...")

        await target.fill("sip:desk@elsewhere.example")
        await pane.get_by_test_id("pane-transfer").click()
        await expect(desk.get_by_test_id("agent-notice")).to_contain_text("not on ivr.transfer_allow")
        assert (await s.store.contact("call1"))["state"] == "connected"
        await shots.take(desk, "agent-transfer-uri-refused")

        await target.fill("sip:desk@partner.example")
        await pane.get_by_test_id("pane-transfer").click()
        notice = desk.get_by_test_id("agent-notice")
        await expect(notice).to_contain_text("Call transferred to sip:desk@partner.example")
        await expect(pane.get_by_test_id("pane-status")).to_contain_text("in wrap-up")
        await shots.take(desk, "agent-transfer-uri")
        assert (await s.store.contact("call1"))["disposition"] == "transferred"
    assert not errors, errors
