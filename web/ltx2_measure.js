// Text width on the graph canvas, in graph units at zoom 1 (the node sizes' unit).
import { app } from "../../scripts/app.js";

export function textWidth(text, font) {
  const ctx = app.canvas?.canvas?.getContext("2d");
  if (!ctx) return 0.6 * 12 * String(text).length;
  ctx.save();
  if (font) ctx.font = font;
  const width = ctx.measureText(String(text)).width;
  ctx.restore();
  return width;
}

// ComfyUI truncates a title longer than the node's width less two title heights (the dot and a margin).
export function titleWidth(node) {
  const titleHeight = globalThis.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
  return textWidth(node.title ?? "", node.titleFontStyle ?? app.canvas?.title_text_font) + 2 * titleHeight;
}
