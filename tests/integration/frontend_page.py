"""The real ComfyUI frontend in headless Chromium (Playwright), for tests/integration/test_frontend.py and
scripts/render_thumbnails.py: open the app, load a workflow JSON, fit it into the view, measure what is drawn.

Chromium: $CHROMIUM or /usr/bin/chromium (`apt-get install chromium`); Playwright drives it without a browser
download (`pip install playwright`).
"""

import json
import os
import shutil

PACK_PREFIX = "LTX2"
EXTENSION_NAMES = ("comfyui-ltx2.empty-latent", "comfyui-ltx2.fit-widgets")
UI_SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False, "Comfy.Graph.CanvasInfo": False}
PROBE_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frontend_probe.js")


def chromium_path():
    """The Chromium executable, or None."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.isfile(path) else None


def write_ui_settings(base):
    """Settings of the default user in a --base-directory: no first-run template dialog, no minimap."""
    folder = os.path.join(base, "user", "default")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "comfy.settings.json"), "w") as handle:
        json.dump(UI_SETTINGS, handle)


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(),
                                      args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])


class AppPage:
    """One browser page on a running server, recording every console error, page error and failed request."""

    def __init__(self, browser, url, width=1600, height=1000):
        self.url = url
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.events = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.events.append(("pageerror", f"{e}\n{e.stack or ''}", "")))
        self.page.on("response", self._response)
        self.page.goto(url, wait_until="networkidle")
        self.page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=60000)
        self.page.wait_for_function(
            "(names) => names.every((n) => (window.app.extensions || []).some((e) => e.name === n))",
            arg=list(EXTENSION_NAMES), timeout=30000)
        with open(PROBE_JS) as handle:
            self.page.add_script_tag(content=handle.read())

    def _console(self, message):
        if message.type in ("error", "warning"):
            self.events.append((f"console.{message.type}", message.text, message.location.get("url", "")))

    def _response(self, response):
        if response.status >= 400:
            self.events.append(("http", f"{response.status} {response.url}", response.url))

    def mark(self):
        return len(self.events)

    def since(self, mark):
        return self.events[mark:]

    def load_workflow(self, workflow, name="workflow"):
        """Loads a workflow JSON as the user's open workflow and waits until every node is in the graph."""
        self.page.evaluate("async ([wf, name]) => { await window.app.loadGraphData(wf, true, true, name); }",
                           [workflow, name])
        self.page.wait_for_function("(n) => window.app.graph.nodes.length === n", arg=len(workflow["nodes"]))
        self.page.wait_for_timeout(300)

    def fit(self, margin=20):
        """Fits the whole graph into the view, `margin` screen pixels clear of the edges."""
        self.page.evaluate("(m) => window.ltx2Probe.fitView(m)", margin)
        self.page.wait_for_timeout(200)

    def full_detail(self):
        """Draws nodes in full at every zoom (no low-quality boxes), for thumbnails of whole graphs."""
        self.page.evaluate("() => { window.app.canvas.min_font_size_for_lod = 0; }")

    def probe(self):
        """Geometry of the drawn graph: see frontend_probe.js."""
        return self.page.evaluate("() => window.ltx2Probe.report()")

    def canvas_only(self):
        """Hides the menus and side bars so a screenshot shows only the graph (and its text boxes)."""
        self.page.add_style_tag(content=(
            "body * { visibility: hidden !important; } "
            "#graph-canvas, .dom-widget, .dom-widget *, .comfy-multiline-input, .comfy-img-preview, "
            ".comfy-img-preview * { visibility: visible !important; }"))
        self.page.wait_for_timeout(200)
