import { generateKeyPairSync, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GO_SUMDB_DEFAULT, parseSumDb, tilePath } from './sumdb.js';

describe('checksum database settings', () => {
  it("takes the go command's own key for sum.golang.org, and off", () => {
    expect(parseSumDb(GO_SUMDB_DEFAULT)).toMatchObject({ name: 'sum.golang.org', url: 'https://sum.golang.org' });
    expect(parseSumDb('off')).toBeUndefined();
  });

  it('takes a key of another database with its URL, and refuses a key whose hash does not match', () => {
    const raw = Buffer.concat([Buffer.from([1]), generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12)]);
    const hash = createHash('sha256').update('sum.test\n').update(raw).digest().subarray(0, 4).toString('hex');
    const key = `sum.test+${hash}+${raw.toString('base64')}`;
    expect(parseSumDb(`${key} http://127.0.0.1:9/`)).toMatchObject({ name: 'sum.test', url: 'http://127.0.0.1:9' });
    expect(() => parseSumDb(`sum.test+00000000+${raw.toString('base64')}`)).toThrow(/key hash does not match/);
    expect(() => parseSumDb('sum.golang.org')).toThrow(/verifier key/);
    expect(() => parseSumDb(`${key} file:///etc`)).toThrow(/http or https/);
    expect(() => parseSumDb(`${key} https://a https://b`)).toThrow();
  });

  it('names tiles as the tlog layout does', () => {
    expect(tilePath(0, 5, 256)).toBe('tile/8/0/005');
    expect(tilePath(1, 1234067, 17)).toBe('tile/8/1/x001/x234/067.p/17');
  });
});
