/**
 * Writes the ESRGAN reference fixture with the tfjs path (bench/esrgan-tfjs.ts): a 64 x 80 crop of
 * the sample photo, and what tfjs made of it (4x, 8-bit). test/integration/super-resolution.test.ts
 * holds onnxruntime's output to it. Run once, before tfjs left: `npx tsx bench/make-esrgan-reference.ts`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { superResolveTfjs } from './esrgan-tfjs.js';

const photo = await readFile(new URL('../samples/astronaut.jpg', import.meta.url));
const meta = await sharp(photo).metadata();
// The face, 1/4 size: edges, skin and hair in one tile.
const crop = await sharp(photo)
  .resize(Math.round(meta.width / 4))
  .extract({ left: 48, top: 20, width: 64, height: 80 })
  .png()
  .toBuffer();
await writeFile(new URL('../test/fixtures/esrgan/input-64x80.png', import.meta.url), crop);
const out = await superResolveTfjs(crop, { budgetMs: 600_000 });
await writeFile(new URL('../test/fixtures/esrgan/tfjs-output-256x320.png', import.meta.url), await sharp(out!.data, { raw: { width: out!.width, height: out!.height, channels: 3 } }).png().toBuffer());
console.log('written', out!.width, out!.height);
