import type { FastifyInstance } from 'fastify';
import { answerFor, ID_PATTERN, packagePurl, parseAnyPurl, QuorumError, SourceMappingViewSchema } from '@quorum/core';
import { builderFor } from '@quorum/ecosystems';
import { API_TAGS, ERROR_RESPONSES } from './api-docs.js';
import type { CoordinatorContext } from './context.js';
import { POLICY_URI, policyBody } from './publish-verdict.js';

/** What consumers need to check a verdict themselves: keys, policy, signed bundles. */
export function registerAttestationRoutes(app: FastifyInstance, ctx: CoordinatorContext): void {
  const { store, blobs, config } = ctx;

  /** The trust material a consumer can pin (`quorum keys export`). */
  app.get(
    '/v1/keys',
    {
      schema: {
        tags: [API_TAGS.attestations],
        summary: "the coordinator's key, every enrolled builder's key, the quorum policy and the source mappings: what quorum keys export writes as the trust file",
      },
    },
    async () => ({
      v: 1,
      coordinator: { verifierId: config.verifierId, keyId: ctx.signer.keyId, publicKeyPem: ctx.signer.publicKeyPem },
      builders: store.enrolments().map((e) => ({ workerId: e.workerId, operator: e.operator, keyId: e.keyId, publicKeyPem: e.publicKeyPem, enrolledAt: e.enrolledAt })),
      policy: { uri: POLICY_URI, ...policyBody(config.policy) },
      // pinned with the keys: `quorum verify` accepts a mapped source only when the consumer pinned the mapping
      sourceMappings: store.sourceMappings(),
    }),
  );

  /** Operators' source mappings (package → repository), for packages whose registry entry declares no source. */
  app.get(
    '/v1/source-mappings',
    { schema: { tags: [API_TAGS.attestations], summary: "operators' source mappings (package to repository, who, when)", response: { 200: { type: 'array', items: SourceMappingViewSchema } } } },
    async () => store.sourceMappings(),
  );

  app.get('/v1/policy', { schema: { tags: [API_TAGS.attestations], summary: 'the quorum policy whose digest every VSA carries' } }, async () => ({ uri: POLICY_URI, ...policyBody(config.policy) }));

  /** One builder's signed statement (Sigstore bundle). */
  app.get<{ Params: { id: string } }>(
    '/v1/rebuilds/:id/bundle',
    { schema: { tags: [API_TAGS.attestations], summary: "one builder's signed statement (Sigstore bundle)", response: ERROR_RESPONSES } },
    async (req, reply) => {
      const rebuild = ID_PATTERN.test(req.params.id) ? store.getRebuild(req.params.id) : undefined;
      const bytes = rebuild?.bundleSha256 ? await blobs.read(rebuild.bundleSha256) : undefined;
      if (!bytes) throw new QuorumError('not-found', `rebuild ${req.params.id.slice(0, 64)} has no signed statement`);
      return reply.type('application/json').send(bytes);
    },
  );

  /**
   * What answers for a versioned purl (canonical sources only; an unexplained mismatch stays the
   * answer): that release's VSA bundle and every builder bundle.
   */
  app.get<{ Params: { purl: string } }>(
    '/v1/attestations/:purl',
    { schema: { tags: [API_TAGS.attestations], summary: 'what answers for a versioned purl: its signed VSA bundle, every builder bundle, and the answer', response: ERROR_RESPONSES } },
    async (req) => {
      const p = parseAnyPurl(req.params.purl);
      const problem = builderFor(p.type).purlProblem(p);
      if (problem) throw new QuorumError('invalid-purl', problem);
      if (!p.version) throw new QuorumError('missing-version', `attestations are per version: name one, e.g. ${packagePurl(p)}@1.0.0`);
      const answer = answerFor(p.canonical, store.answerInputs(p.canonical));
      const release = answer.releaseId ? store.getRelease(answer.releaseId) : undefined;
      if (!release) {
        const overrides = answer.overrideReleases > 0 ? `; ${answer.overrideReleases} release(s) built from a submitter's override source exist, and those never answer for the purl` : '';
        throw new QuorumError('not-found', `no decided release of ${p.canonical} from the package's own source${overrides}`);
      }
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
        verdict: answer.verdict,
        answer,
        source: release.source ?? null,
        published: release.published ?? null,
        vsa: vsa ? (JSON.parse(vsa.toString('utf8')) as unknown) : null,
        builders,
      };
    },
  );
}
