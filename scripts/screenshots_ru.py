"""The overview and the queue in Russian, 1280 and 390 px wide, into docs/screenshots/ (*-ru-*.png).

    .venv/bin/python scripts/screenshots_ru.py

The same throw-away demo database and server as scripts/screenshots.py; the
browser asks for Russian (Accept-Language: ru-RU), as a Russian visitor's would.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    OUT,
    PASSWORD,
    ROOT,
    SECRET_KEY,
    WIDTHS,
    prepare_database,
    shoot,
    start_server,
)


def take_screenshots(base_url: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        for width, height in WIDTHS.items():
            context = browser.new_context(
                base_url=base_url, viewport={"width": width, "height": height}, device_scale_factor=1,
                locale="ru-RU",
            )
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Эл. почта").fill("admin@example.com")
            page.get_by_label("Пароль").fill(PASSWORD)
            page.get_by_role("button", name="Войти").click()
            expect(page.get_by_role("heading", name="Обзор", level=1)).to_be_visible()
            saved.append(shoot(page, "overview-ru", width, out))
            page.goto("/queue")
            expect(page.locator(".queue-table")).to_be_visible()
            saved.append(shoot(page, "queue-ru", width, out))
            context.close()
        browser.close()
    return saved


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit(f"Chromium is not installed at {CHROMIUM}: run `make browser` first.")
    OUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="crm-screenshots-ru-"))
    server = None
    try:
        url = prepare_database(workdir)
        server = start_server(url, workdir / "logs", workers=2, secret_key=SECRET_KEY)
        saved = take_screenshots(server.base_url, OUT)
        errors = server.server_errors()
        if errors:
            sys.exit("the server reported errors:\n" + "\n".join(errors))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for path in saved:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
