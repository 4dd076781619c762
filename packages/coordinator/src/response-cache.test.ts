import { describe, expect, it } from 'vitest';
import { ResponseCache } from './response-cache.js';

describe('ResponseCache', () => {
  const setup = (maxChars = 1000) => {
    let stamp = 1;
    let renders = 0;
    const cache = new ResponseCache(() => String(stamp), maxChars);
    const render = (value: unknown) => () => {
      renders++;
      return value;
    };
    return { cache, render, write: () => stamp++, renders: () => renders, stampNow: () => String(stamp) };
  };

  it('renders once while the store is unchanged', () => {
    const { cache, render, renders } = setup();
    expect(cache.json('a', render({ x: 1 })).toString()).toBe('{"x":1}');
    expect(cache.json('a', render({ x: 2 })).toString()).toBe('{"x":1}');
    expect(renders()).toBe(1);
  });

  it('renders again after any write', () => {
    const { cache, render, write } = setup();
    cache.json('a', render({ x: 1 }));
    write();
    expect(cache.json('a', render({ x: 2 })).toString()).toBe('{"x":2}');
  });

  it('keeps a text only when asked to after rendering it (an answer about nothing is not kept)', () => {
    const { cache } = setup();
    let renders = 0;
    const unknown = () => `unknown ${++renders}`;
    expect(cache.text('badge x', unknown, () => false)).toBe('unknown 1');
    expect(cache.text('badge x', unknown, () => false)).toBe('unknown 2');
    expect(cache.text('badge x', unknown)).toBe('unknown 3');
    expect(cache.text('badge x', unknown)).toBe('unknown 3');
  });

  it('caches nothing when rendering throws', () => {
    const { cache, render } = setup();
    expect(() =>
      cache.json('a', () => {
        throw new Error('not found');
      }),
    ).toThrow('not found');
    expect(cache.json('a', render({ x: 1 })).toString()).toBe('{"x":1}');
  });

  it('drops the least recently used answers when full', () => {
    const { cache, render, renders } = setup(100);
    const answer = (c: string) => ({ s: c.repeat(16) }); // 24 chars of JSON: four fit
    for (const k of ['a', 'b', 'c', 'd']) cache.json(k, render(answer(k)));
    cache.json('a', render(answer('a'))); // a hit: a becomes the most recent
    cache.json('e', render(answer('e'))); // b goes
    expect(renders()).toBe(5);
    for (const k of ['a', 'c', 'd', 'e']) cache.json(k, render(answer(k)));
    expect(renders()).toBe(5);
    cache.json('b', render(answer('b')));
    expect(renders()).toBe(6);
  });

  it('does not keep an answer larger than a quarter of its size', () => {
    const { cache, render, renders } = setup(100);
    cache.json('a', render({ s: 'a'.repeat(40) }));
    cache.json('a', render({ s: 'a'.repeat(40) }));
    expect(renders()).toBe(2);
  });

  it('caches nothing when its size is 0', () => {
    const { cache, render, renders } = setup(0);
    cache.json('a', render({ x: 1 }));
    cache.json('a', render({ x: 1 }));
    expect(renders()).toBe(2);
  });

  it('keeps bytes made while the store was unchanged, and never those made across a write', () => {
    const { cache, write, stampNow } = setup();
    const before = stampNow();
    cache.putBytes('{"packages":[]}', Buffer.from('{"a":1}'), before);
    expect(cache.bytes('{"packages":[]}')?.toString()).toBe('{"a":1}');
    // an answer computed from the rows of before a write, kept after it: dropped
    const stale = stampNow();
    write();
    cache.putBytes('{"packages":[1]}', Buffer.from('{"a":2}'), stale);
    expect(cache.bytes('{"packages":[1]}')).toBeUndefined();
    expect(cache.bytes('{"packages":[]}')).toBeUndefined();
    // and one too large for the cache is not kept
    cache.putBytes('big', Buffer.alloc(600), stampNow());
    expect(cache.bytes('big')).toBeUndefined();
  });
});
