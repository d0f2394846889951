// Keeps every LTX2 node wide enough that ComfyUI draws its title and widget labels and values uncut: a newly
// added node, a node loaded from a workflow and a node whose file choice changes all grow (never shrink) to fit.
import { app } from "../../scripts/app.js";
import { textWidth, titleWidth } from "./ltx2_measure.js";

// ComfyUI draws "label  value" between the arrows: 2 * 15 margin + 5 left pad, 2 * 15 + 20 on the right,
// 5 between label and value (BaseWidget in the frontend's litegraph).
const WIDGET_CHROME = 85;
const LABEL_VALUE_GAP = 5;
const TEXT_WIDGETS = new Set(["combo", "number", "text", "string"]);

export function widgetFitWidth(widget) {
  if (!TEXT_WIDGETS.has(widget.type)) return 0;
  const font = app.canvas?.inner_text_font;
  const label = String(widget.label ?? widget.name ?? "");
  const value = widget.value === undefined ? "" : String(widget.value);
  return textWidth(label, font) + LABEL_VALUE_GAP + textWidth(value, font) + WIDGET_CHROME;
}

export function growToFit(node) {
  const needed = Math.max(titleWidth(node), ...(node.widgets ?? []).map(widgetFitWidth));
  if (needed > node.size[0]) node.setSize([Math.ceil(needed), node.size[1]]);
}

function refitOnChange(node) {
  for (const widget of node.widgets ?? []) {
    if (widget.type !== "combo") continue;
    const original = widget.callback;
    widget.callback = function (...args) {
      const result = original?.apply(this, args);
      growToFit(node);
      return result;
    };
  }
}

app.registerExtension({
  name: "comfyui-ltx2.fit-widgets",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    // Only this pack's nodes (ComfyUI's own LTX-2 nodes are named LTXV*/LTXAV*, from comfy_extras).
    if (!nodeData.name?.startsWith("LTX2") || !nodeData.python_module?.startsWith("custom_nodes.")) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function (...args) {
      const result = onNodeCreated?.apply(this, args);
      refitOnChange(this);
      growToFit(this);
      return result;
    };
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (...args) {
      const result = onConfigure?.apply(this, args);
      growToFit(this);
      return result;
    };
  },
});
