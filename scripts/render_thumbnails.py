"""Renders workflows/<name>.jpg, the Templates browser's thumbnail of each example workflow, from the real
ComfyUI frontend in headless Chromium: start a ComfyUI server with this pack, load the workflow, fit the whole
graph into a square view, screenshot only the graph, scale down. Rerun after changing a workflow.
With --docs it also renders the README's screenshots (docs/*.png) instead.

    .venv/bin/python scripts/render_thumbnails.py --comfyui .comfyui/ComfyUI [--python .comfyui/venv/bin/python]

Needs Chromium (`apt-get install chromium`, or $CHROMIUM), Playwright and Pillow in the running Python.
"""

import argparse
import glob
import io
import json
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import frontend_page  # noqa: E402
from comfy_server import make_base, start_server, stop_server  # noqa: E402
from synthetic_weights import write_inputs  # noqa: E402

RENDER_PX = 1600  # square viewport
DOCS = os.path.join(REPO, "docs")
DOCS_WORKFLOW = "LTX2 Image to Video with Audio.json"
THUMB_PX = 512
JPEG_QUALITY = 85


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def thumbnail(png):
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").resize((THUMB_PX, THUMB_PX), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def save_png(page, path, **kwargs):
    write_atomic(path, page.screenshot(**kwargs))
    print(f"{os.path.relpath(path, REPO)}: {os.path.getsize(path)} bytes")


def render_docs(browser, url):
    """docs/workflow_image_to_av.png, docs/empty_latent_warning.png, docs/templates_browser.png."""
    app = frontend_page.AppPage(browser, url, 1900, 1050)
    app.full_detail()
    with open(os.path.join(REPO, "workflows", DOCS_WORKFLOW)) as handle:
        app.load_workflow(json.load(handle), DOCS_WORKFLOW[:-5])
    app.fit(90)  # clear of the side bar and the menus
    save_png(app.page, os.path.join(DOCS, "workflow_image_to_av.png"))
    app.page.evaluate("""() => { const g = window.app.graph; g.clear();
        const n = LiteGraph.createNode("LTX2EmptyAVLatent"); n.pos = [40, 80]; g.add(n);
        n.widgets.find((w) => w.name === "width").value = 700;
        n.widgets.find((w) => w.name === "frames").value = 120;
        const c = window.app.canvas; c.ds.scale = 1.5; c.ds.offset[0] = 20; c.ds.offset[1] = 20; c.setDirty(true, true); }""")
    app.page.wait_for_timeout(300)
    save_png(app.page, os.path.join(DOCS, "empty_latent_warning.png"), clip={"x": 0, "y": 0, "width": 900, "height": 560})
    app.page.evaluate("() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    app.page.get_by_text("comfyui-ltx2", exact=True).first.click()
    app.page.wait_for_timeout(1500)
    save_png(app.page, os.path.join(DOCS, "templates_browser.png"))


def render(comfyui, python, workflows, docs=False):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        base = make_base(tmp)
        frontend_page.write_ui_settings(base)
        write_inputs(os.path.join(base, "input"))
        server = start_server(comfyui, python, base)
        try:
            with sync_playwright() as playwright:
                browser = frontend_page.launch(playwright)
                if docs:
                    render_docs(browser, server.url)
                else:
                    render_thumbnails(browser, server.url, workflows)
                browser.close()
        finally:
            stop_server(server)


def render_thumbnails(browser, url, workflows):
    page = frontend_page.AppPage(browser, url, RENDER_PX, RENDER_PX)
    page.canvas_only()
    page.full_detail()
    for path in workflows:
        with open(path) as handle:
            page.load_workflow(json.load(handle), os.path.basename(path)[:-5])
        page.fit()
        png = page.page.locator("#graph-canvas").screenshot()
        out = path[:-5] + ".jpg"
        write_atomic(out, thumbnail(png))
        print(f"{os.path.relpath(out, REPO)}: {os.path.getsize(out)} bytes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comfyui", required=True, help="ComfyUI source folder (its main.py)")
    parser.add_argument("--python", help="the Python that runs ComfyUI (default: <comfyui>/../venv/bin/python)")
    parser.add_argument("--docs", action="store_true", help="render the README's screenshots in docs/ instead")
    parser.add_argument("workflows", nargs="*", help="workflow JSON files (default: every workflows/*.json)")
    args = parser.parse_args(argv)
    comfyui = os.path.abspath(args.comfyui)
    python = args.python or os.path.join(os.path.dirname(comfyui), "venv", "bin", "python")
    for path, what in ((os.path.join(comfyui, "main.py"), "--comfyui"), (python, "--python")):
        if not os.path.isfile(path):
            print(f"error: {path} does not exist: give {what}", file=sys.stderr)
            return 2
    if frontend_page.chromium_path() is None:
        print("error: Chromium not found: apt-get install chromium, or set CHROMIUM", file=sys.stderr)
        return 2
    workflows = [os.path.abspath(p) for p in args.workflows] or sorted(glob.glob(os.path.join(REPO, "workflows", "*.json")))
    render(comfyui, python, workflows, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
