import { describe, expect, it } from 'vitest';
import { npmDocumentAsOf } from './document-as-of.js';

const doc = {
  name: 'dep',
  'dist-tags': { latest: '1.0.0', next: '2.0.0-rc.1', beta: '1.1.0-beta.1' },
  versions: {
    '1.0.0': { name: 'dep', version: '1.0.0', deprecated: 'use 1.1.0' },
    '1.1.0-beta.1': { name: 'dep', version: '1.1.0-beta.1' },
    '1.1.0': { name: 'dep', version: '1.1.0' },
    '2.0.0-rc.1': { name: 'dep', version: '2.0.0-rc.1' },
    '0.9.0': { name: 'dep', version: '0.9.0' },
  },
  time: {
    created: '2020-01-01T00:00:00Z',
    '0.9.0': '2020-01-01T00:00:00Z',
    '1.0.0': '2021-01-01T00:00:00Z',
    '1.1.0-beta.1': '2021-06-01T00:00:00Z',
    '1.1.0': '2022-01-01T00:00:00Z',
    '2.0.0-rc.1': '2023-01-01T00:00:00Z',
  },
};
const asOf = (d: unknown, before: string) => JSON.parse(Buffer.from(npmDocumentAsOf(Buffer.from(JSON.stringify(d)), before)).toString()) as typeof doc;

describe('npmDocumentAsOf', () => {
  it('drops later versions and deprecations, and sets latest to the highest stable version then', () => {
    const then = asOf(doc, '2021-07-01T00:00:00Z');
    expect(Object.keys(then.versions).sort()).toEqual(['0.9.0', '1.0.0', '1.1.0-beta.1']);
    expect(then.versions['1.0.0']).not.toHaveProperty('deprecated');
    expect(then['dist-tags']).toEqual({ latest: '1.0.0', beta: '1.1.0-beta.1' });
    expect(then.time).not.toHaveProperty('1.1.0');
  });
  it('undoes a latest tag moved back after the release', () => {
    const moved = { ...doc, 'dist-tags': { latest: '0.9.0' } };
    expect(asOf(moved, '2022-06-01T00:00:00Z')['dist-tags'].latest).toBe('1.1.0');
  });
  it('drops versions the registry records no time for', () => {
    const noTime = { ...doc, time: { ...doc.time, '1.0.0': undefined } };
    expect(Object.keys(asOf(noTime, '2022-06-01T00:00:00Z').versions)).not.toContain('1.0.0');
  });
  it('returns what it cannot read unchanged', () => {
    for (const body of ['not json', '[]', '{"name":"x"}']) expect(Buffer.from(npmDocumentAsOf(Buffer.from(body), '2022-01-01T00:00:00Z')).toString()).toBe(body);
    expect(Buffer.from(npmDocumentAsOf(Buffer.from(JSON.stringify(doc)), 'not a date')).toString()).toBe(JSON.stringify(doc));
  });
});
