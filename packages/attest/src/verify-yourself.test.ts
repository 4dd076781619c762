// The README's "verify a builder bundle yourself" snippet, run against a real Quorum bundle.
// `verifyBuilderBundle` uses only node:crypto and @sigstore/*; Quorum code only makes the bundle.
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from './keys.js';
import { rebuildStatement } from './rebuild-statement.js';
import { LocalKeySigner } from './sign.js';
import { rebuildInput } from './test-support.js';

async function verifyBuilderBundle(bundlePath: string, publicKeyPath: string) {
  // --- snippet start ---
  const bundle = bundleFromJSON(JSON.parse(await readFile(bundlePath, 'utf8')));
  const publicKey = createPublicKey(await readFile(publicKeyPath));
  const keyId =
    'sha256:' +
    createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex');

  const noServices = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
  const trust = toTrustMaterial(noServices, (hint) => {
    if (hint !== keyId) throw new Error(`bundle is signed by ${hint}, not by ${keyId}`);
    return { publicKey, validFor: () => true };
  });
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));

  if (bundle.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle');
  const { payloadType, payload } = bundle.content.dsseEnvelope;
  if (payloadType !== 'application/vnd.in-toto+json') throw new Error(`unexpected payloadType ${payloadType}`);
  const statement = JSON.parse(payload.toString('utf8'));
  // --- snippet end ---
  return statement;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attest-yourself-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verify a builder bundle yourself', () => {
  it('verifies a Quorum bundle with @sigstore/verify alone', async () => {
    const kp = generateKeyPair();
    const bundle = await new LocalKeySigner(kp).signStatement(rebuildStatement(rebuildInput()));
    await writeFile(join(dir, 'rebuild.sigstore.json'), JSON.stringify(bundle));
    await writeFile(join(dir, 'worker.pub.pem'), kp.publicKeyPem);
    const statement = await verifyBuilderBundle(join(dir, 'rebuild.sigstore.json'), join(dir, 'worker.pub.pem'));
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.predicate.runDetails.builder.id).toBe('urn:quorum:worker:worker-a');
  });

  it('fails with another builder key', async () => {
    const bundle = await new LocalKeySigner(generateKeyPair()).signStatement(rebuildStatement(rebuildInput()));
    await writeFile(join(dir, 'other.sigstore.json'), JSON.stringify(bundle));
    await writeFile(join(dir, 'someone.pub.pem'), generateKeyPair().publicKeyPem);
    await expect(verifyBuilderBundle(join(dir, 'other.sigstore.json'), join(dir, 'someone.pub.pem'))).rejects.toThrow(/is signed by/);
  });
});
