/** A vignette as raw RGBA pixels (SVG input is blocked in this process, see sharp.ts). */
export interface RawOverlay {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

/** Where the darkening starts, as a fraction of the centre-to-corner distance. */
const INNER_RADIUS = 0.45;

/**
 * A black overlay whose opacity grows smoothly from the centre to the corners, where it reaches
 * `strength` (0..1). Composited over a picture it darkens the edges like a lens vignette.
 */
export function vignetteOverlay(width: number, height: number, strength: number): RawOverlay {
  const data = Buffer.alloc(width * height * 4);
  const maxAlpha = 255 * Math.min(1, Math.max(0, strength));
  for (let y = 0; y < height; y++) {
    const dy = (2 * y + 1) / height - 1;
    for (let x = 0; x < width; x++) {
      const dx = (2 * x + 1) / width - 1;
      // 0 at the centre, 1 in the corners, whatever the aspect ratio.
      const radius = Math.sqrt((dx * dx + dy * dy) / 2);
      data[(y * width + x) * 4 + 3] = Math.round(maxAlpha * smoothstep(INNER_RADIUS, 1, radius));
    }
  }
  return { data, width, height, channels: 4 };
}

function smoothstep(edge0: number, edge1: number, value: number): number {
  const t = Math.min(1, Math.max(0, (value - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}
