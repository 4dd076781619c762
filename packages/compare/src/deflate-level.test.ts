import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DeflateLevelDetector, LEVEL_CHECK_BYTES, candidateLevels } from './deflate-level.js';

/** Text that deflates a few times over, with few repeats inside deflate's window. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line = `export const v${i} = require('m${(i * 7919) % 1009}').f${(i * 104729) % 997}(${i % 13});\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** Runs a detector over a body and the data it should encode, in chunks as a stream would deliver them. */
async function detect(body: Buffer, data: Buffer, levels: number[], checkBytes?: number): Promise<number | null> {
  const d = new DeflateLevelDetector(levels, checkBytes);
  const step = 64 * 1024;
  for (let i = 0; i < Math.max(body.length, data.length); i += step) {
    if (i < body.length) d.addBody(body.subarray(i, i + step));
    if (i < data.length) await d.addInflated(data.subarray(i, i + step));
  }
  return d.finish(body.length);
}

describe('DeflateLevelDetector', () => {
  const data = text(3 * 1024 * 1024);

  it.each([1, 6, 9])('recognizes zlib level %i among the candidates its XFL byte names', async (level) => {
    const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
    expect(await detect(deflateRawSync(data, { level }), data, candidateLevels(xfl))).toBe(level);
  });

  it('recognizes nothing when no candidate reproduces the body', async () => {
    expect(await detect(deflateRawSync(data, { level: 9 }), data, candidateLevels(4))).toBeNull();
  });

  it('checks a body shorter than checkBytes to its last byte', async () => {
    const small = data.subarray(0, 512 * 1024);
    const body = Buffer.from(deflateRawSync(small, { level: 6 }));
    expect(body.length).toBeLessThan(LEVEL_CHECK_BYTES);
    body[body.length - 2]! ^= 0x01;
    expect(await detect(body, small, [6])).toBeNull();
  });

  it('recognizes a level from the first checkBytes of a longer body, without recompressing the rest', async () => {
    // the documented trade-off: a change after the checked prefix is not seen by the level check
    const body = Buffer.from(deflateRawSync(data, { level: 6 }));
    body[body.length - 2]! ^= 0x01;
    expect(await detect(body, data, [6], 64 * 1024)).toBe(6);
    expect(await detect(body, data, [6], body.length + 1)).toBeNull();
  });
});
