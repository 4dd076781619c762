import type { FastifyInstance } from 'fastify';
import { packagePurl, parseAnyPurl, QuorumError } from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import type { CoordinatorContext } from './context.js';
import { POLICY_URI, policyBody } from './publish-verdict.js';

/** What consumers need to check a verdict themselves: keys, policy, signed bundles. */
export function registerAttestationRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store, blobs, config } = ctx;

  /** The trust material a consumer can pin (`quorum keys export`). */
  app.get('/v1/keys', async () => ({
    v: 1,
    coordinator: { verifierId: config.verifierId, keyId: ctx.signer.keyId, publicKeyPem: ctx.signer.publicKeyPem },
    builders: store.enrolments().map((e) => ({ workerId: e.workerId, operator: e.operator, keyId: e.keyId, publicKeyPem: e.publicKeyPem, enrolledAt: e.enrolledAt })),
    policy: { uri: POLICY_URI, ...policyBody(config.policy) },
  }));

  app.get('/v1/policy', async () => ({ uri: POLICY_URI, ...policyBody(config.policy) }));

  /** The newest decided release of a versioned purl: its VSA bundle and every builder bundle. */
  app.get<{ Params: { purl: string } }>('/v1/attestations/:purl', async (req) => {
    const p = parseAnyPurl(req.params.purl);
    builderFor(p.type);
    if (!p.version) throw new QuorumError('missing-version', `attestations are per version: name one, e.g. ${packagePurl(p)}@1.0.0`);
    const release = store.releasesOf({ canonical: p.canonical, versioned: true }).find((r) => r.state === 'decided');
    if (!release) throw new QuorumError('not-found', `no decided release of ${p.canonical}`);
    const vsaSha256 = store.latestVsa(release.id);
    const vsa = vsaSha256 ? await blobs.read(vsaSha256) : undefined;
    const builders = [];
    for (const r of store.rebuildsOf(release.id)) {
      const bytes = r.bundleSha256 ? await blobs.read(r.bundleSha256) : undefined;
      if (bytes) builders.push({ rebuildId: r.id, workerId: r.workerId, operator: r.operator, state: r.state, bundle: JSON.parse(bytes.toString('utf8')) as unknown });
    }
    return {
      purl: release.purl,
      releaseId: release.id,
      verdict: release.verdict?.verdict ?? null,
      published: release.published ?? null,
      vsa: vsa ? (JSON.parse(vsa.toString('utf8')) as unknown) : null,
      builders,
    };
  });
}
