// LTX2 Empty Audio-Video Latent: keeps seconds and frames in step, and shows the clip length, the
// transformer token counts, a rough activation-memory estimate and a visible warning for invalid sizes.
import { app } from "../../scripts/app.js";
import {
  activationGiB, framesFromSeconds, secondsFromFrames, sizeProblems, tokenCounts,
} from "./ltx2_math.js";
import { textWidth, titleWidth } from "./ltx2_measure.js";

const NODE_ID = "LTX2EmptyAVLatent";
const WARN_COLOR = "#ff6b6b";
const INFO_COLOR = "#9ecbff";
const INFO_FONT = "12px sans-serif";
const INFO_PAD = 12;
const LINE_HEIGHT = 16;

function widget(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

function summary(node) {
  const get = (name) => Number(widget(node, name)?.value ?? 0);
  const [width, height, fps, batch] = [get("width"), get("height"), get("fps"), Math.max(1, get("batch_size"))];
  const seconds = get("seconds");
  const frames = seconds > 0 ? framesFromSeconds(seconds, fps) : get("frames");
  const problems = sizeProblems(width, height, frames);
  if (!(fps > 0)) problems.push("fps must be positive");
  if (problems.length) return { lines: problems.map((p) => `\u26a0 ${p}`), warn: true };
  const t = tokenCounts(width, height, frames, fps);
  const one = activationGiB(width, height, frames, fps, batch, 1);
  const four = activationGiB(width, height, frames, fps, batch, 4);
  return {
    warn: false,
    lines: [
      `${frames} frames = ${secondsFromFrames(frames, fps).toFixed(2)} s at ${fps} fps (audio the same length)`,
      `tokens: video ${t.video.toLocaleString()} (${t.latent_frames} latent frames), audio ${t.audio}`,
      `activations \u2248 ${one.toFixed(2)} GiB per pass, ${four.toFixed(2)} GiB with full guidance (4 passes)`,
    ],
  };
}

function infoWidget(node) {
  return {
    name: "ltx2_info",
    type: "ltx2_info",
    value: "",
    serialize: false,
    computeSize(width) {
      return [width, 3 * LINE_HEIGHT + 8];
    },
    draw(ctx, drawNode, width, y) {
      const info = summary(drawNode);
      // Zoomed out, ComfyUI draws nodes as plain boxes: text there would be an unreadable smear.
      if (app.canvas?.low_quality) return;
      ctx.save();
      ctx.font = INFO_FONT;
      ctx.fillStyle = info.warn ? WARN_COLOR : INFO_COLOR;
      info.lines.forEach((line, i) => ctx.fillText(line, INFO_PAD, y + 14 + i * LINE_HEIGHT, width - 2 * INFO_PAD));
      ctx.restore();
    },
  };
}

// The width at which the title and every helper line (the current ones and the longest warnings) draw uncut.
export function minimumWidth(node) {
  const title = titleWidth(node);
  const lines = [...summary(node).lines, ...sizeProblems(9999, 9999, 1000).map((p) => `\u26a0 ${p}`)];
  const text = Math.max(...lines.map((line) => textWidth(line, INFO_FONT))) + 2 * INFO_PAD;
  return Math.ceil(Math.max(title, text));
}

function growToMinimum(node) {
  const width = minimumWidth(node);
  if (width > node.size[0]) node.setSize([width, node.size[1]]);
}

function linkLength(node) {
  // Typing seconds sets frames (nearest 8k+1); typing frames clears seconds so frames wins.
  let syncing = false;
  const wrap = (name, after) => {
    const w = widget(node, name);
    if (!w) return;
    const original = w.callback;
    w.callback = function (...args) {
      const result = original?.apply(this, args);
      if (!syncing) {
        syncing = true;
        try { after(); } finally { syncing = false; }
      }
      growToMinimum(node);
      node.setDirtyCanvas(true, true);
      return result;
    };
  };
  const applySeconds = () => {
    const seconds = Number(widget(node, "seconds").value);
    if (seconds > 0) widget(node, "frames").value = framesFromSeconds(seconds, Number(widget(node, "fps").value));
  };
  wrap("seconds", applySeconds);
  wrap("fps", applySeconds);
  wrap("frames", () => { widget(node, "seconds").value = 0; });
  for (const name of ["width", "height", "batch_size"]) wrap(name, () => {});
}

app.registerExtension({
  name: "comfyui-ltx2.empty-latent",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE_ID) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function (...args) {
      const result = onNodeCreated?.apply(this, args);
      this.addCustomWidget(infoWidget(this));
      linkLength(this);
      this.setSize(this.computeSize());
      return result;
    };
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (...args) {
      const result = onConfigure?.apply(this, args);
      growToMinimum(this);
      return result;
    };
    const computeSize = nodeType.prototype.computeSize;
    nodeType.prototype.computeSize = function (...args) {
      const size = computeSize.apply(this, args);
      size[0] = Math.max(size[0], minimumWidth(this));
      return size;
    };
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx, ...rest) {
      const result = onDrawForeground?.apply(this, [ctx, ...rest]);
      // ComfyUI draws the foreground before the widgets: the warning is computed here, not by the helper.
      if (summary(this).warn) {
        ctx.save();
        ctx.strokeStyle = WARN_COLOR;
        ctx.lineWidth = 2;
        ctx.strokeRect(0, 0, this.size[0], this.size[1]);
        ctx.restore();
      }
      return result;
    };
  },
});
