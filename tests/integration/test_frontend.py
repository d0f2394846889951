"""What an artist sees: every example workflow rendered by the real ComfyUI frontend in headless Chromium.

Each workflow is loaded into the page as a user opens it; the tests fail on a node type the frontend does not
know, on any text ComfyUI draws cut (ellipsis), on a wire drawn behind a node, on a stale prompt under a linked
input, on console or page errors while our workflows load, and on any error or failed request from our web
extension or our template files. They add each of the pack's nodes as a user would (uncut; the Empty Latent's
helper lines unsqueezed, absent at the low-quality zoom, its invalid-size outline on the first frame), fetch each
Templates-browser thumbnail and open a template from the Templates browser. Skip with the reason when Chromium
or Playwright is missing. Set LTX2_UI_SCREENSHOTS=<folder> to keep a screenshot of each workflow.
"""

import json
import os

import pytest
import workflow_api
from frontend_page import AppPage, chromium_path, launch, write_ui_settings

MODULE = "comfyui-ltx2"  # the pack's folder name in custom_nodes (comfy_server.make_base)
OURS = (f"/extensions/{MODULE}/", f"/workflow_templates/{MODULE}/")
WORKFLOWS = workflow_api.workflow_files()
NAMES = [os.path.basename(p)[:-5] for p in WORKFLOWS]
LOW_ZOOM = 0.3
WARN_COLOR = "#ff6b6b"  # web/ltx2_latent.js
INFO_LINE_STARTS = ("121 frames = ", "tokens: video ", "activations ")


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -c constraints.txt playwright): UI tests skipped.")
    if chromium_path() is None:
        pytest.skip("Chromium not found (apt-get install chromium, or set CHROMIUM=<path>): UI tests skipped.")
    return sync_playwright


@pytest.fixture(scope="module")
def ui(request, comfy):  # `comfy` (cheap: paths only) pins the host parameter for the lazily requested server
    sync_playwright = _playwright()  # skip before starting a server
    server = request.getfixturevalue("server")
    write_ui_settings(server.base)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield AppPage(browser, server.url)
        finally:
            browser.close()


def _ours(event):
    _, text, url = event
    return any(part in url or part in text for part in OURS)


def _screenshot(ui, name):
    folder = os.environ.get("LTX2_UI_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        ui.page.screenshot(path=os.path.join(folder, f"{name}.png"))


@pytest.mark.parametrize("path", WORKFLOWS, ids=NAMES)
def test_workflow_renders_clean(ui, path):
    with open(path) as handle:
        workflow = json.load(handle)
    mark = ui.mark()
    ui.load_workflow(workflow, os.path.basename(path)[:-5])
    errors = [e for e in ui.since(mark) if e[0] in ("pageerror", "console.error", "http") or _ours(e)]
    ui.fit(90)  # clear of the side bar and menus in the screenshots
    report = ui.probe()
    _screenshot(ui, os.path.basename(path)[:-5])
    assert len(report["nodes"]) == len(workflow["nodes"])
    assert report["unknownTypes"] == [], f"node types the frontend does not know: {report['unknownTypes']}"
    assert errors == [], f"errors while loading {os.path.basename(path)}: {errors}"
    assert report["cut"] == [], f"text drawn cut: {report['cut']}"
    assert report["wiresBehindNodes"] == [], f"wires drawn behind nodes: {report['wiresBehindNodes']}"


def test_enhancer_fed_prompt_shows_no_stale_text(ui):
    for path in WORKFLOWS:
        with open(path) as handle:
            workflow = json.load(handle)
        ui.load_workflow(workflow, os.path.basename(path)[:-5])
        shown = ui.page.evaluate("""() => window.app.graph.nodes
            .filter((n) => n.type === "LTX2TextEncode" && n.inputs.some((i) => i.name === "prompt" && i.link != null))
            .map((n) => n.widgets.find((w) => w.name === "prompt").value)""")
        assert all(value == "" for value in shown), f"{os.path.basename(path)}: linked prompt widget shows {shown}"


def test_new_empty_latent_fits_and_hides_text_when_zoomed_out(ui):
    ui.page.evaluate("() => window.app.graph.clear()")
    node = ui.page.evaluate("([t, z]) => window.ltx2Probe.addNode(t, z)", ["LTX2EmptyAVLatent", LOW_ZOOM])
    normal, low = node["normal"], node["low"]
    assert normal["lowQuality"] is False and low["lowQuality"] is True
    assert node["cut"] == [], f"a new Empty Latent draws cut text: {node['cut']} (size {node['size']})"
    assert node["title"] in normal["texts"]
    for start in INFO_LINE_STARTS:
        assert any(t.startswith(start) for t in normal["texts"]), f"helper line {start!r} not drawn: {normal['texts']}"
        assert not any(t.startswith(start) for t in low["texts"]), f"helper line {start!r} drawn at zoom {LOW_ZOOM}"
    # The helper draws at x = 12 with fillText's maxWidth = width - 24: a longer line is squeezed.
    widths = ui.page.evaluate("""(texts) => { const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = "12px sans-serif"; return texts.map((t) => ctx.measureText(t).width); }""",
                              [t for t in normal["texts"] if t.startswith(INFO_LINE_STARTS)])
    assert max(widths) + 24 <= node["size"][0], f"helper lines {widths} squeezed in a {node['size'][0]} wide node"


def test_template_thumbnails_served(ui):
    listed = ui.page.evaluate("async () => (await fetch('/api/workflow_templates')).json()")
    assert sorted(listed.get(MODULE, [])) == sorted(NAMES), f"templates listed: {listed}"
    for name in NAMES:
        image = ui.page.evaluate("""async (url) => { const r = await fetch(url);
            if (!r.ok) return { status: r.status };
            const bitmap = await createImageBitmap(await r.blob());
            return { status: r.status, type: r.headers.get("content-type"), size: [bitmap.width, bitmap.height] }; }""",
                                 f"/api/workflow_templates/{MODULE}/{name}.jpg")
        assert image["status"] == 200, f"thumbnail of {name}: HTTP {image['status']}"
        assert image["type"] == "image/jpeg" and image["size"][0] == image["size"][1] >= 256, image


def test_no_errors_from_our_files(ui):
    ours = [e for e in ui.events if _ours(e)]
    assert ours == [], f"errors from the pack's web files or templates: {ours}"


def test_template_opens_from_the_templates_browser(ui):
    """A user's path: Templates → the pack's category → a card, which loads that workflow."""
    path = WORKFLOWS[0]
    with open(path) as handle:
        expected = len(json.load(handle)["nodes"])
    ui.page.evaluate("() => window.app.graph.clear()")
    mark = ui.mark()
    ui.page.evaluate("() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    dialog = ui.page.get_by_role("dialog")
    dialog.get_by_text(MODULE, exact=True).first.click()
    dialog.get_by_text(NAMES[0], exact=True).first.click()
    ui.page.wait_for_function("(n) => window.app.graph.nodes.length === n", arg=expected, timeout=15000)
    _screenshot(ui, "templates_opened")
    errors = [e for e in ui.since(mark) if e[0] in ("pageerror", "console.error", "http") or _ours(e)]
    assert errors == [], f"errors while opening {NAMES[0]} from the Templates browser: {errors}"


def test_invalid_size_outlines_the_new_latent_in_red_at_once(ui):
    ui.page.evaluate("() => window.app.graph.clear()")
    valid = ui.page.evaluate("([t, z]) => window.ltx2Probe.addNode(t, z)", ["LTX2EmptyAVLatent", LOW_ZOOM])
    invalid = ui.page.evaluate("([t, z, v]) => window.ltx2Probe.addNode(t, z, v)",
                               ["LTX2EmptyAVLatent", LOW_ZOOM, {"width": 700, "frames": 120}])
    assert WARN_COLOR not in valid["normal"]["outlines"]
    assert WARN_COLOR in invalid["normal"]["outlines"], f"first frame outlines: {invalid['normal']['outlines']}"
    warnings = [t for t in invalid["normal"]["texts"] if t.startswith("\u26a0")]
    assert warnings == ["\u26a0 width 700 is not a multiple of 32 (use 672 or 704)",
                        "\u26a0 frames 120 is not 8k+1 (use 113 or 121)"]
    assert invalid["cut"] == []


def test_every_new_node_draws_uncut(ui):
    """Each of the pack's nodes as a user adds it (loaders show the first file of their folder)."""
    ui.page.evaluate("() => window.app.graph.clear()")
    types = ui.page.evaluate("""() => Object.entries(LiteGraph.registered_node_types)
        .filter(([name, cls]) => name.startsWith("LTX2") && cls.nodeData?.python_module?.startsWith("custom_nodes."))
        .map(([name]) => name)""")
    assert len(types) >= 15, types
    cut = {}
    for node_type in types:
        node = ui.page.evaluate("([t, z]) => window.ltx2Probe.addNode(t, z)", [node_type, LOW_ZOOM])
        if node["cut"]:
            cut[node_type] = node["cut"]
    assert cut == {}, f"new nodes drawing cut text: {cut}"
