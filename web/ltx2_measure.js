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
