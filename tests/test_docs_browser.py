"""The built guide in headless Chromium at 1280 px and at a phone's 390 px: nothing cut off, every diagram rendered.

Each page of a fresh build gets a small script (tests/browser/layout-check.js) that records the laid-out widths and
the Mermaid diagrams on its <body>; a harness page shows it in a frame of the width under test, and
`chromium --dump-dom` prints the result. Every host but loopback is unresolvable, so Mermaid must come with the site.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest
from support import ROOT

# Chromium lays out a fresh build of the guide.
pytestmark = pytest.mark.services

WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (`make test` installs the Debian package when it runs as root)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    site = tmp_path_factory.mktemp("docs") / "site"
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)]
    proc = subprocess.run(build, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = sorted(path.relative_to(site).parent.as_posix() for path in site.rglob("index.html"))
    for page in pages:
        path = site / page / "index.html"
        path.write_text(path.read_text().replace("</body>", '<script src="/layout-check.js"></script></body>'))
    shutil.copy(ROOT / "tests/browser/layout-check.js", site / "layout-check.js")
    shutil.copy(ROOT / "tests/browser/harness.html", site / "harness.html")
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield chromium, f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def layout(chromium: str, base: str, page: str, width: int) -> dict:
    url = f"{base}/harness.html?page=/{'' if page == '.' else page + '/'}&width={width}"
    args = [
        chromium,
        "--headless",
        "--no-sandbox",  # root in CI
        "--disable-gpu",
        "--window-size=1400,1000",
        "--virtual-time-budget=25000",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--dump-dom",
        url,
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    found = re.search(r'data-layout="([^"]*)"', proc.stdout)
    assert found, f"no layout record for {page} at {width}px:\n{proc.stdout[-1000:]}\n{proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def expected_diagrams(page: str) -> int:
    source = ROOT / "docs" / ("index.md" if page == "." else f"{page}.md")
    return source.read_text().count("```mermaid") if source.is_file() else 0


def test_every_page_fits_and_renders_its_diagrams_on_a_desktop_and_a_phone(served_site):
    chromium, base, pages = served_site
    assert "concepts" in pages and "cli" in pages
    problems = []
    for page in pages:
        for width in WIDTHS:
            seen = layout(chromium, base, page, width)
            if seen["viewport"] != width:
                problems.append(f"{page} at {width}px: laid out at {seen['viewport']}px")
            if seen["scrollWidth"] > seen["viewport"] or seen["overflowing"]:
                problems.append(f"{page} at {width}px: cut off ({seen})")
            if seen["rendered"] != expected_diagrams(page) or seen["unrendered"]:
                problems.append(f"{page} at {width}px: {expected_diagrams(page)} diagrams expected, saw {seen}")
    assert not problems, "\n".join(problems)
    assert expected_diagrams("concepts") >= 2  # the pipeline and the branch flow
