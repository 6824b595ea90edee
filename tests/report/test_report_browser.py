"""Look at the report as a user would: headless Chromium renders report.html; the page must show
the verdict and every finding, and every image must load (no broken image).

Under ``CI=true`` a missing browser is a failure (tools/test.sh installs Debian's ``chromium``);
elsewhere the test is skipped with how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import matplotlib.image
import pytest
from _check import page_text, png_size

from netmedic.doctor import present

BROWSERS = ("chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--virtual-time-budget=10000")
#: added to a copy of the page (the report itself has no script): after the load event, each
#: image says whether it decoded and its natural size; the body says that the check ran.
PROBE = ("<script>window.addEventListener('load',function(){var im=document.images;"
         "for(var i=0;i<im.length;i++){im[i].setAttribute('data-loaded',"
         "(im[i].complete&&im[i].naturalWidth>0)+':'+im[i].naturalWidth+'x'+"
         "im[i].naturalHeight);}document.body.setAttribute('data-checked',im.length);});"
         "</script>")
BROKEN = '<img alt="control" src="data:image/png;base64,iVBORw0KGgoAAAA">'


@pytest.fixture(scope="module")
def browser():
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        message = ("headless Chromium is needed to look at report.html: install it with "
                   "`apt-get install -y chromium` (tools/test.sh does, as root)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return found


def chromium(browser, tmp_path, *args):
    profile = tmp_path / "profile"
    proc = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    return proc.stdout


def rendered_dom(browser, tmp_path, page, extra=""):
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", extra + PROBE +
                                                              "</body>"), encoding="utf-8")
    return chromium(browser, tmp_path, "--dump-dom", probe.as_uri())


@pytest.mark.parametrize("name", ["guarded", "blown"])
def test_page_in_chromium_shows_verdict_findings_and_every_image(browser, trained, tmp_path,
                                                                 name):
    result = trained(name)
    page = result.out_dir / "report.html"
    dom = rendered_dom(browser, tmp_path, page, extra=BROKEN)
    checked = re.search(r'<body[^>]*data-checked="(\d+)"', dom)
    assert checked, "the load-event probe did not run: chromium dumped the DOM too early"
    loaded = re.findall(r'<img[^>]*alt="([^"]*)"[^>]*data-loaded="([^"]*)"', dom)
    assert len(loaded) == int(checked.group(1)) == 6  # 5 plots + the broken control
    sizes = {alt: state for alt, state in loaded}
    assert sizes.pop("control") == "false:0x0", "the probe must see a broken image as broken"
    for alt, state in sizes.items():
        ok, _, size = state.partition(":")
        width, height = (int(v) for v in size.split("x"))
        assert ok == "true" and width >= 800 and height >= 250, (alt, state)
    text = page_text(dom)
    assert present.verdict(result.findings) in text
    assert result.findings
    for finding in result.findings:
        assert f"{finding.kind} at {finding.where}" in text


def test_screenshot_of_the_page_is_not_blank(browser, trained, tmp_path):
    page = trained("guarded").out_dir / "report.html"
    shot = tmp_path / "page.png"
    chromium(browser, tmp_path, "--window-size=1200,3000", f"--screenshot={shot}",
             page.as_uri())
    assert png_size(shot.read_bytes()) == (1200, 3000)
    pixels = matplotlib.image.imread(shot)
    assert pixels[:1500].std() > 0.1  # text, the verdict box and plots, not an empty page
