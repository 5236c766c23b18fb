"""The pages in a real browser: Debian's Chromium through Playwright, against a
real server. Screenshots land in test-artifacts/ for people to look at."""

from __future__ import annotations

import itertools

import pytest

from web.state import close_stores

pytestmark = pytest.mark.browser

IVORY_AD = {
    "advertiser_id": "adv-17",
    "submission_id": "camp-9/ad-3",
    "headline": "Antique carved ivory netsuke",
    "body": "Signed, Meiji period. $400, ships worldwide.",
    "keywords": ["netsuke", "japanese antiques"],
}


def check(live, ad) -> dict:
    """Check an ad through the API, as the ad-submission flow does."""
    r = live.app.test_client().post("/v1/check", json=ad)
    assert r.status_code == 200, r.get_json()
    close_stores()  # this thread's connection; the server has its own
    return r.get_json()


def badge(page):
    return page.locator("main .outcome .badge")


def test_rejected_ad_in_english_and_swedish(live, page, artifacts):
    v = check(live, {**IVORY_AD, "language": "en"})
    page.goto(live.url + v["explanation_url"])
    assert page.locator("html").get_attribute("lang") == "en"
    assert badge(page).inner_text() == "Rejected"
    assert badge(page).get_attribute("data-decision") == "rejected"
    headline = page.locator('.adtext[data-field="headline"]')
    assert headline.inner_text().startswith("Antique carved ivory") and "netsuke" in headline.inner_text()
    mark = headline.locator("mark")
    assert mark.count() == 1 and mark.inner_text() == "ivory"
    assert page.locator('.adtext[data-field="body"] mark').count() == 0
    reason = page.locator("#reason-1")
    assert "Found in the headline: “ivory”." in reason.locator(".message").inner_text()
    advice = reason.locator(".advice").inner_text()
    assert advice.startswith("What to do: Remove the ivory item.")
    assert "If “ivory” is the colour, say “ivory colour” or “cream”." in advice
    # The number beside the mark leads to its reason.
    page.locator('.adtext[data-field="headline"] sup a').click()
    assert page.url.endswith("#reason-1")
    page.screenshot(path=artifacts / "verdict-en.png", full_page=True)

    page.get_by_role("link", name="Svenska").click()
    assert page.locator("html").get_attribute("lang") == "sv"
    assert badge(page).inner_text() == "Avvisad"
    assert page.locator('.adtext[data-field="headline"] mark').inner_text() == "ivory"
    reason = page.locator("#reason-1")
    assert "Hittat i rubriken: ”ivory”." in reason.locator(".message").inner_text()
    advice = reason.locator(".advice").inner_text()
    assert advice.startswith("Så gör du: Ta bort elfenbensföremålet.")
    assert "Om ”ivory” är färgen, skriv ”ivory colour” eller ”cream”." in advice
    assert page.get_by_role("button", name="Skicka överklagan").is_visible()
    page.screenshot(path=artifacts / "verdict-sv.png", full_page=True)

    # A Swedish ad, checked with language sv, opens in Swedish without a switch.
    sv = check(live, {"advertiser_id": "adv-18", "headline": "Snidad figur i elfenben", "language": "sv"})
    page.goto(live.url + sv["explanation_url"])
    assert badge(page).inner_text() == "Avvisad"
    assert page.locator("mark").inner_text() == "elfenben"
    assert "skriv ”elfenbensfärg” eller ”gräddvit”" in page.locator("#reason-1 .advice").inner_text()


def test_verdict_page_fits_a_phone(live, browser, artifacts):
    v = check(live, {**IVORY_AD, "language": "en"})
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(live.url + v["explanation_url"])
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        box = page.get_by_role("button", name="Send appeal").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 40  # a thumb-sized target
        page.screenshot(path=artifacts / "verdict-en-phone.png", full_page=True)
    finally:
        context.close()


def test_appeal_reaches_the_queue_and_a_review_changes_the_advertisers_page(live, page, artifacts):
    v = check(live, {**IVORY_AD, "language": "en"})
    page.goto(live.url + v["explanation_url"])
    page.get_by_label("Why should the decision change?").fill("It is carved tagua nut (vegetable ivory), not ivory.")
    page.get_by_role("button", name="Send appeal").click()
    status = page.get_by_role("status")
    assert "is waiting for a person" in status.inner_text()
    assert page.locator("textarea").count() == 0
    assert "You appealed" in page.locator(".history").inner_text()

    page.goto(live.url + "/review")
    item = page.locator(f'li[data-decision-id="{v["decision_id"]}"]')
    assert item.count() == 1
    assert "Appealed" in item.inner_text() and "Antique carved ivory netsuke" in item.inner_text()
    page.screenshot(path=artifacts / "review-queue.png", full_page=True)

    item.get_by_role("link").click()
    assert "It is carved tagua nut" in page.locator("blockquote").inner_text()
    folded = page.locator("table", has_text="Folded text the matcher searched")
    assert "antique carved ivory netsuke" in folded.inner_text()  # the normalised text, for reviewers
    page.get_by_label("Approve: the ad may run").check()
    page.get_by_label("Note for the log").fill("Tagua nut; the seller sent a photo of the cut face.")
    page.screenshot(path=artifacts / "review-verdict.png", full_page=True)
    page.get_by_role("button", name="Save decision").click()
    assert "Saved: approved" in page.get_by_role("status").first.inner_text()

    page.goto(live.url + v["explanation_url"])
    assert badge(page).inner_text() == "Approved"
    assert "A person reviewed the ad and changed the decision." in page.locator("main").inner_text()
    history = page.locator(".history li")
    assert history.count() == 3
    assert "A person reviewed the ad: Approved" in history.nth(2).inner_text()
    assert "Tagua nut; the seller" not in page.content()  # reviewers' notes stay in the log
    page.screenshot(path=artifacts / "verdict-after-review.png", full_page=True)

    page.goto(live.url + "/review")
    assert page.locator(f'li[data-decision-id="{v["decision_id"]}"]').count() == 0  # answered: off the queue


def test_markup_in_an_ad_is_shown_as_text_and_runs_nothing(live, page):
    v = check(
        live,
        {
            "advertiser_id": "adv-x",
            "headline": "Carved ivory <script>window.__pwned = 1; alert('x')</script>",
            "body": "<img src=x onerror=\"window.__pwned = 2; alert('y')\"> <b>bold</b>",
            "language": "en",
        },
    )
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live.url + v["explanation_url"])
    assert badge(page).inner_text() == "Rejected"
    ad = page.locator(".ad")
    assert ad.locator("script, img, b").count() == 0
    assert "<script>window.__pwned = 1; alert('x')</script>" in ad.locator('[data-field="headline"]').inner_text()
    assert "<img src=x onerror=\"window.__pwned = 2; alert('y')\">" in ad.locator('[data-field="body"]').inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.dialogs == [] and errors == []
    assert page.locator("script").count() == 0  # the pages carry no script of their own either


def test_tampered_token_is_404(live, page):
    v = check(live, {**IVORY_AD, "language": "en"})
    url = live.url + v["explanation_url"]
    head, signature = url.rsplit(".", 1)
    tampered = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"  # the first character always counts
    response = page.goto(tampered)
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert "ivory" not in page.content() and v["decision_id"] not in page.content()
    assert page.goto(url.split("?")[0]).status == 404
    assert page.goto(url).status == 200


def _contrast(page, selector: str) -> float:
    """WCAG contrast of an element's text against its own or nearest painted background."""
    return page.evaluate(
        """(sel) => {
        const el = document.querySelector(sel);
        const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
        let bgEl = el, bg = rgb(getComputedStyle(el).backgroundColor);
        while (bg.length === 4 && bg[3] === 0 && bgEl.parentElement) {
            bgEl = bgEl.parentElement; bg = rgb(getComputedStyle(bgEl).backgroundColor);
        }
        if (bg.length === 4 && bg[3] === 0) bg = [255, 255, 255];
        const fg = rgb(getComputedStyle(el).color);
        const lum = ([r, g, b]) => [r, g, b].map(c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
            .reduce((a, c, i) => a + c * [0.2126, 0.7152, 0.0722][i], 0);
        const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
        return (hi + 0.05) / (lo + 0.05);
    }""",
        selector,
    )


def _accessibility_basics(page) -> None:
    assert page.locator("html").get_attribute("lang") in ("en", "sv")
    assert page.locator("h1").count() == 1
    levels = [
        int(t[1]) for t in page.eval_on_selector_all("main h1, main h2, main h3", "els => els.map(e => e.tagName)")
    ]
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels  # no skipped heading level
    unlabelled = page.eval_on_selector_all(
        "input:not([type=hidden]), textarea, select",
        "els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)",
    )
    assert unlabelled == []
    assert page.locator("main").count() == 1 and page.locator("a.skip[href='#main']").count() == 1


def test_pages_pass_accessibility_basics(live, page):
    v = check(live, {**IVORY_AD, "language": "en"})
    ok = check(live, {"advertiser_id": "adv-17", "headline": "Grain-free dog food, 12 kg", "language": "en"})
    urls = [
        v["explanation_url"],
        v["explanation_url"] + "&lang=sv",
        ok["explanation_url"],
        "/policies",
        "/policies/protected-wildlife-products?lang=sv",
        "/review",
        f"/review/{v['decision_id']}",
        "/",
        f"/?verdict={v['decision_id']}",
    ]
    for url in urls:
        page.goto(live.url + url)
        _accessibility_basics(page)
    page.goto(live.url + v["explanation_url"])
    for selector in ("main .badge", "#reason-1 .message", "#reason-1 .advice", "mark", ".hint", "footer", "a"):
        assert _contrast(page, selector) >= 4.5, selector
    page.goto(live.url + ok["explanation_url"])
    assert _contrast(page, "main .badge") >= 4.5
    page.goto(live.url + "/policies/protected-wildlife-products")
    for selector in (".badge-rejected", ".badge-approved"):
        assert _contrast(page, selector) >= 4.5, selector


def test_try_it_shows_a_stored_verdict(live, page):
    page.goto(live.url + "/")
    page.get_by_label("Headline").fill("Antique carved ivory netsuke")
    page.get_by_label("The advertiser's language").select_option("sv")
    page.get_by_role("button", name="Check the ad").click()
    assert "verdict=vd_" in page.url
    assert page.locator("#result-h .badge").inner_text() == "Rejected"
    assert "Hittat i rubriken" in page.locator("#reason-1").inner_text()
    assert page.get_by_label("Headline").input_value() == "Antique carved ivory netsuke"
    page.get_by_role("link", name="Open the advertiser's page").click()
    assert badge(page).inner_text() == "Avvisad"
