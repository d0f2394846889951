// Clip-length, token and memory arithmetic for the LTX2 nodes' UI. Mirrors nodes/params.py
// (tests/test_nodes_params.py runs both and compares).

export const TIME_SCALE = 8;
export const SPATIAL_SCALE = 32;
export const AUDIO_LATENTS_PER_SECOND = 25.0;
const VIDEO_WIDTH = 4096;
const AUDIO_WIDTH = 2048;
const ACTIVATION_FACTOR = 12;

// Python's round(): halves go to the even neighbour.
export function pyRound(x) {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function snapFrames(frames) {
  const k = Math.max(0, pyRound((Math.trunc(frames) - 1) / TIME_SCALE));
  return k * TIME_SCALE + 1;
}

export function framesFromSeconds(seconds, fps) {
  return snapFrames(pyRound(seconds * fps) + 1);
}

export function secondsFromFrames(frames, fps) {
  return frames / fps;
}

export function tokenCounts(width, height, frames, fps) {
  const latentFrames = Math.floor((Math.trunc(frames) - 1) / TIME_SCALE) + 1;
  const video = latentFrames * Math.floor(width / SPATIAL_SCALE) * Math.floor(height / SPATIAL_SCALE);
  const audio = pyRound((frames / fps) * AUDIO_LATENTS_PER_SECOND);
  return { video, audio, latent_frames: latentFrames };
}

export function sizeProblems(width, height, frames) {
  const problems = [];
  for (const [name, value] of [["width", Math.trunc(width)], ["height", Math.trunc(height)]]) {
    if (value < SPATIAL_SCALE || value % SPATIAL_SCALE) {
      const lower = Math.max(SPATIAL_SCALE, Math.floor(value / SPATIAL_SCALE) * SPATIAL_SCALE);
      problems.push(`${name} ${value} is not a multiple of 32 (use ${lower} or ${lower + SPATIAL_SCALE})`);
    }
  }
  const f = Math.trunc(frames);
  if (f < 1 || (f - 1) % TIME_SCALE) {
    const below = Math.max(1, Math.floor((f - 1) / TIME_SCALE) * TIME_SCALE + 1);
    problems.push(`frames ${frames} is not 8k+1 (use ${below} or ${below + TIME_SCALE})`);
  }
  return problems;
}

export function activationGiB(width, height, frames, fps, batch = 1, passes = 1) {
  const t = tokenCounts(width, height, frames, fps);
  const perPass = (t.video * VIDEO_WIDTH + t.audio * AUDIO_WIDTH) * 2 * ACTIVATION_FACTOR;
  return (perPass * batch * passes) / 2 ** 30;
}
