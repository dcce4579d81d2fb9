"""The HTML report rendered by real headless Chromium: every finding row and key image present and
decoded; a screenshot is saved under test-artifacts/."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import websocket
from report_cases import phantom, truth_findings

from cementseg.report.html import NOTICE, write_html
from cementseg.report.images import reported_findings

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _chromium_page(html_path: Path, profile: Path, expression: str, screenshot: Path):
    """Load ``html_path`` in headless Chromium, evaluate ``expression``, save a full-page screenshot."""
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1200,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.2)
        port, path = port_file.read_text().split()[:2]
        connection = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60)
        ids = iter(range(1, 1000))

        def call(method, session=None, **params):
            message = {"id": next(ids), "method": method, "params": params}
            if session:
                message["sessionId"] = session
            connection.send(json.dumps(message))
            while True:
                reply = json.loads(connection.recv())
                if reply.get("id") == message["id"]:
                    assert "error" not in reply, reply
                    return reply["result"]

        target = call("Target.createTarget", url="about:blank")["targetId"]
        session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        call("Page.enable", session=session)
        call("Page.navigate", session=session, url=html_path.resolve().as_uri())
        for _ in range(100):
            state = call("Runtime.evaluate", session=session, expression="document.readyState",
                         returnByValue=True)["result"]["value"]
            if state == "complete":
                break
            time.sleep(0.1)
        value = call("Runtime.evaluate", session=session, expression=expression, returnByValue=True,
                     awaitPromise=True)["result"]["value"]
        shot = call("Page.captureScreenshot", session=session, format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        connection.close()
        return value
    finally:
        process.terminate()
        process.wait(timeout=30)


PAGE_FACTS = """(async () => {
  const images = Array.from(document.images);
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  return {
    rows: Array.from(document.querySelectorAll('#findings tbody tr')).map(r => r.dataset.findingId),
    keyImages: Array.from(document.querySelectorAll('img.key-image')).map(
        i => [i.dataset.findingId, i.naturalWidth, i.naturalHeight]),
    overview: Array.from(document.querySelectorAll('img.overview-image')).map(i => i.naturalWidth),
    verdict: document.getElementById('verdict').innerText,
    notice: document.getElementById('notice').innerText,
    external: Array.from(document.querySelectorAll('[src]')).filter(e => !e.src.startsWith('data:')).length,
  };
})()"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed; tests/system_setup.sh installs it")
def test_report_renders_every_finding_row_and_key_image_in_chromium(tmp_path):
    case = phantom()
    findings = truth_findings(case.volume, case.truth)
    report = write_html(case.volume, findings, tmp_path / "report.html")
    artifacts = REPO_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    screenshot = artifacts / "report_html.png"
    facts = _chromium_page(report, tmp_path / "profile", PAGE_FACTS, screenshot)
    ids = [str(c.id) for c in reported_findings(findings)]
    assert facts["rows"] == ids
    assert [k[0] for k in facts["keyImages"]] == ids
    assert all(width > 500 and height > 300 for _, width, height in facts["keyImages"])
    assert len(facts["overview"]) == 2 and min(facts["overview"]) > 300
    assert facts["verdict"] == findings.verdict()
    assert facts["notice"] == NOTICE
    assert facts["external"] == 0  # self-contained
    assert screenshot.stat().st_size > 10_000
