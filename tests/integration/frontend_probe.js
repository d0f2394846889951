// Test probe injected into the ComfyUI page (tests/integration/frontend_page.py): measures what the real
// frontend draws. Every node is drawn on its own scratch canvas with a recording fillText, so each drawn
// string is attributed to its node; truncated text is what ComfyUI ends with an ellipsis.
(() => {
  const ELLIPSES = ["\u2026", "\u2025", "\u2024", "..."];

  function nodeBounds(node) {
    const titleHeight = LiteGraph.NODE_TITLE_HEIGHT;
    return { x: node.pos[0], y: node.pos[1] - titleHeight, w: node.size[0], h: node.size[1] + titleHeight };
  }

  // Zooms and pans so every node is in view, `margin` screen pixels clear of the canvas edges.
  function fitView(margin) {
    const canvas = window.app.canvas;
    const boxes = window.app.graph.nodes.map(nodeBounds);
    const x0 = Math.min(...boxes.map((b) => b.x));
    const y0 = Math.min(...boxes.map((b) => b.y));
    const x1 = Math.max(...boxes.map((b) => b.x + b.w));
    const y1 = Math.max(...boxes.map((b) => b.y + b.h));
    const [cw, ch] = [canvas.canvas.clientWidth, canvas.canvas.clientHeight];
    const scale = Math.min((cw - 2 * margin) / (x1 - x0), (ch - 2 * margin) / (y1 - y0));
    canvas.ds.scale = scale;
    canvas.ds.offset[0] = (cw / scale - (x1 - x0)) / 2 - x0;
    canvas.ds.offset[1] = (ch / scale - (y1 - y0)) / 2 - y0;
    canvas.setDirty(true, true);
    canvas.draw(true, true);
    return scale;
  }

  // The strings one node draws at the given zoom.
  function drawnTexts(node, scale) {
    const canvas = window.app.canvas;
    const saved = [canvas.ds.scale, canvas.ds.offset[0], canvas.ds.offset[1]];
    const rezoom = saved[0] !== scale;
    if (rezoom) {
      canvas.ds.scale = scale;
      canvas.draw(true, true);  // updates low_quality
    }
    const scratch = document.createElement("canvas");
    scratch.width = Math.ceil(node.size[0] + 200);
    scratch.height = Math.ceil(node.size[1] + 200);
    const ctx = scratch.getContext("2d");
    const texts = [];
    const fillText = ctx.fillText.bind(ctx);
    ctx.fillText = (text, ...rest) => { texts.push(String(text)); return fillText(text, ...rest); };
    const outlines = [];
    const strokeRect = ctx.strokeRect.bind(ctx);
    ctx.strokeRect = (...args) => { outlines.push(String(ctx.strokeStyle)); return strokeRect(...args); };
    ctx.translate(50, 100);
    const lowQuality = canvas.low_quality;
    try {
      canvas.drawNode(node, ctx);
    } finally {
      [canvas.ds.scale, canvas.ds.offset[0], canvas.ds.offset[1]] = saved;
      if (rezoom) canvas.draw(true, true);
    }
    return { texts, outlines, lowQuality };
  }

  function cutTexts(node) {
    const { texts } = drawnTexts(node, 1);
    const cut = [];
    texts.forEach((text, i) => {
      if (ELLIPSES.includes(text) && i > 0) cut.push(`${texts[i - 1]}\u2026`);
      else if (ELLIPSES.some((e) => text.length > e.length && text.endsWith(e))) cut.push(text);
    });
    return cut;
  }

  // LiteGraph's spline between two slots: control points a quarter of the distance out, horizontally.
  function wirePoints(a, b, samples) {
    const dist = Math.hypot(b[0] - a[0], b[1] - a[1]) * 0.25;
    const c1 = [a[0] + dist, a[1]];
    const c2 = [b[0] - dist, b[1]];
    const points = [];
    for (let i = 1; i < samples; i++) {
      const t = i / samples;
      const u = 1 - t;
      points.push([0, 1].map((k) => u * u * u * a[k] + 3 * u * u * t * c1[k] + 3 * u * t * t * c2[k] + t * t * t * b[k]));
    }
    return points;
  }

  function wiresBehindNodes() {
    const graph = window.app.graph;
    const links = graph.links instanceof Map ? [...graph.links.values()] : Object.values(graph.links ?? {});
    const found = [];
    for (const link of links) {
      if (!link) continue;
      const origin = graph.getNodeById(link.origin_id);
      const target = graph.getNodeById(link.target_id);
      if (!origin || !target) continue;
      const a = origin.getConnectionPos(false, link.origin_slot);
      const b = target.getConnectionPos(true, link.target_slot);
      const hidden = new Set();
      for (const p of wirePoints(a, b, 60)) {
        for (const node of graph.nodes) {
          const r = nodeBounds(node);
          const inside = p[0] > r.x + 4 && p[0] < r.x + r.w - 4 && p[1] > r.y + 4 && p[1] < r.y + r.h - 4;
          const nearEnd = (node === origin && Math.hypot(p[0] - a[0], p[1] - a[1]) < 24)
            || (node === target && Math.hypot(p[0] - b[0], p[1] - b[1]) < 24);
          if (inside && !nearEnd) hidden.add(`${node.id}`);
        }
      }
      for (const id of hidden) {
        found.push({ link: link.id, from: `${origin.id}:${origin.type}`, to: `${target.id}:${target.type}`,
                     behind: `${id}:${graph.getNodeById(Number(id))?.type}` });
      }
    }
    return found;
  }

  function report() {
    const graph = window.app.graph;
    return {
      nodes: graph.nodes.map((n) => ({ id: n.id, type: n.type, size: Array.from(n.size) })),
      unknownTypes: graph.nodes.filter((n) => !LiteGraph.registered_node_types[n.type]).map((n) => n.type),
      cut: graph.nodes.map((n) => ({ id: n.id, type: n.type, cut: cutTexts(n) })).filter((c) => c.cut.length),
      wiresBehindNodes: wiresBehindNodes(),
    };
  }

  // A node as the user adds it from the search box (then given `values`): its size and what its very first
  // frame at zoom 1 draws, then what it draws at the low zoom.
  function addNode(type, lowScale, values = {}) {
    const canvas = window.app.canvas;
    canvas.ds.scale = 1;
    canvas.draw(true, true);
    const node = LiteGraph.createNode(type);
    node.pos = [100, 100];
    window.app.graph.add(node);
    for (const [name, value] of Object.entries(values)) node.widgets.find((w) => w.name === name).value = value;
    const normal = drawnTexts(node, 1);
    const low = drawnTexts(node, lowScale);
    return { size: Array.from(node.size), title: node.title, normal, low, cut: cutTexts(node) };
  }

  window.ltx2Probe = { fitView, report, addNode, drawnTexts };
})();
