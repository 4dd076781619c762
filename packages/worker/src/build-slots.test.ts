import { describe, expect, it } from 'vitest';
import { BuildSlots } from './build-slots.js';

describe('BuildSlots', () => {
  it('never runs more builds at once than it has slots, and runs them all', async () => {
    const slots = new BuildSlots(1);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const build = (i: number) =>
      slots.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10));
        order.push(i);
        running--;
        return i;
      });
    expect(await Promise.all([build(1), build(2), build(3)])).toEqual([1, 2, 3]);
    expect(peak).toBe(1);
    expect(order).toEqual([1, 2, 3]);
  });

  it('releases the slot when a build throws', async () => {
    const slots = new BuildSlots(1);
    await expect(slots.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run(async () => 'next')).toBe('next');
  });
});
