// LTX2 Empty Audio-Video Latent: keeps seconds and frames in step, and shows the clip length, the
// transformer token counts, a rough activation-memory estimate and a visible warning for invalid sizes.
import { app } from "../../scripts/app.js";
import {
  activationGiB, framesFromSeconds, secondsFromFrames, sizeProblems, tokenCounts,
} from "./ltx2_math.js";

const NODE_ID = "LTX2EmptyAVLatent";
const WARN_COLOR = "#ff6b6b";
const INFO_COLOR = "#9ecbff";

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
      return [width, 3 * 16 + 8];
    },
    draw(ctx, drawNode, width, y) {
      const info = summary(drawNode);
      ctx.save();
      ctx.font = "12px sans-serif";
      ctx.fillStyle = info.warn ? WARN_COLOR : INFO_COLOR;
      info.lines.forEach((line, i) => ctx.fillText(line, 12, y + 14 + i * 16, width - 24));
      ctx.restore();
      drawNode.ltx2Warning = info.warn;
    },
  };
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
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx, ...rest) {
      const result = onDrawForeground?.apply(this, [ctx, ...rest]);
      if (this.ltx2Warning) {
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
