import { vsaStatement, type SignedBundle } from '@quorum/attest';
import { historyFoundNote, movedTagWarning, purlWithQualifiers, type QuorumPolicy, type ReleaseRecord, type VerdictDecision, type VerdictRecord } from '@quorum/core';
import type { CoordinatorContext } from './context.js';
import { explainVerdict } from './explain-verdict.js';

/** Where a verdict's policy is named; its digest pins the exact policy. */
export const POLICY_URI = 'urn:quorum:policy:m-of-n:v1';

/** The canonical form of a quorum policy, as hashed into every VSA. */
export function policyBody(p: QuorumPolicy): Record<string, unknown> {
  return { v: 1, counting: 'exact integer M-of-N over distinct builder identities', builders: p.builders, quorum: p.quorum, distinctOperators: p.distinctOperators };
}

/**
 * Records a verdict together with its signed Verification Summary (VSA): subject = the published
 * artifact, inputs = every builder bundle of the release. Negative verdicts are signed too; a
 * mismatch's VSA carries its risk summary when the diff could be computed and assessed.
 */
export async function publishVerdict(ctx: CoordinatorContext, release: ReleaseRecord, decision: VerdictDecision): Promise<VerdictRecord> {
  const { store, blobs, config } = ctx;
  const rebuilds = store.rebuildsOf(release.id);
  // what builders said qualifies any verdict (e.g. unpinned dependencies), once each
  // what the farm knows about the source comes first: a moved tag must not drown among build notes
  const sourceNotes = release.source ? [movedTagWarning(release.source), historyFoundNote(release.source)].filter((n): n is string => n !== undefined) : [];
  const notes = [...new Set([...sourceNotes, ...rebuilds.filter((r) => r.state !== 'lost').flatMap((r) => r.report?.notes ?? [])])];
  // the diff (and for a mismatch its risk summary) comes first: the signed verdict carries the risk
  const explained = await explainVerdict(ctx, release, decision);
  const record: VerdictRecord = { ...decision, decidedAt: new Date().toISOString(), ...(notes.length ? { notes } : {}), ...(explained.risk ? { risk: explained.risk } : {}) };
  const inputs: { uri: string; bundle: SignedBundle }[] = [];
  for (const r of rebuilds) {
    const bytes = r.bundleSha256 ? await blobs.read(r.bundleSha256) : undefined;
    if (bytes) inputs.push({ uri: `/v1/rebuilds/${r.id}/bundle`, bundle: JSON.parse(bytes.toString('utf8')) as SignedBundle });
  }
  const source = release.source;
  const statement = vsaStatement({
    verifierId: config.verifierId,
    purl: release.purl,
    // an override verdict is about the purl built from another source, and says so in its resource
    ...(!release.canonical && source ? { resourceUri: purlWithQualifiers(release.purl, { vcs_url: `git+${source.repo}${source.commit ? `@${source.commit}` : ''}` }) } : {}),
    ...(source ? { source: { origin: source.origin, repo: source.repo, ...(source.commit ? { commit: source.commit } : {}), ...(source.directory ? { directory: source.directory } : {}) } } : {}),
    releaseId: release.id,
    // without a published artifact (it could not be fetched) the subject is what the registry declared
    published: release.published
      ? { filename: release.upstream?.filename, sha256: release.published.sha256, sha512: release.published.sha512 }
      : { filename: release.upstream?.filename, sha512: integrityHex(release.upstream?.integrity) },
    policy: { uri: POLICY_URI, body: policyBody(release.policy) },
    inputAttestations: inputs,
    verdict: record.verdict,
    reason: record.reason,
    agreeing: record.agreeing,
    stabilizers: record.stabilizers,
    ...(record.risk ? { risk: record.risk } : {}),
    timeVerified: record.decidedAt,
  });
  const bundle = await ctx.signer.signStatement(statement);
  const { sha256 } = await blobs.put(JSON.stringify(bundle));
  store.appendVerdict(release.id, record, sha256, explained.diffSha256);
  ctx.logger.info({ releaseId: release.id, purl: release.purl, verdict: record.verdict, vsa: sha256, ...(record.risk ? { risk: record.risk.level } : {}) }, record.reason);
  return record;
}

/** The hex sha512 inside an SRI string, if it has one. */
function integrityHex(sri: string | undefined): string | undefined {
  const m = /sha512-([A-Za-z0-9+/=]+)/.exec(sri ?? '');
  return m ? Buffer.from(m[1]!, 'base64').toString('hex') : undefined;
}
