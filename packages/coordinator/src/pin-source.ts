import { QuorumError, type PinnedSource, type ReleaseRecord } from '@quorum/core';
import { gitLsRemote } from '@quorum/net';
import type { CoordinatorContext } from './context.js';

/**
 * Pins the commit of a release whose recipe names only candidate tags, before any build: every
 * builder statement must then name this very commit. For the package's own source the first
 * resolution the farm saw wins (a tag moved later is recorded as `moved`, for auditors), so a tag
 * rewritten after publication cannot silently change what a canonical verdict is about.
 */
export async function pinSource(ctx: CoordinatorContext, release: ReleaseRecord): Promise<PinnedSource | undefined> {
  const source = release.source;
  if (!source || source.commit || source.refs.length === 0) return undefined;
  const { store, config, egress } = ctx;
  const canonical = release.canonical;
  const firstSeen = canonical ? source.refs.map((ref) => store.sourcePin(release.purl, source.repo, ref)).find((p) => p !== undefined) : undefined;
  let now: Map<string, string> | undefined;
  try {
    now = await gitLsRemote(source.repo, source.refs, { policy: egress, allowLocal: config.allowLocalRepos });
  } catch (e) {
    // a pin already seen stands on its own; without one, the fault or refusal is the caller's to handle
    if (!firstSeen) throw e;
  }
  if (firstSeen) {
    const current = now?.get(firstSeen.ref);
    const moved = current && current !== firstSeen.commit ? { ref: firstSeen.ref, commit: current, seenAt: new Date().toISOString() } : undefined;
    const steps = [...source.steps, `tag ${firstSeen.ref} first seen at ${firstSeen.commit} (${firstSeen.firstSeenAt})`];
    if (moved) steps.push(`tag ${moved.ref} now points at ${moved.commit}: it moved after the farm first saw it`);
    return { ...source, commit: firstSeen.commit, ref: firstSeen.ref, firstSeenAt: firstSeen.firstSeenAt, steps, ...(moved ? { moved } : {}) };
  }
  const ref = source.refs.find((r) => now!.has(r));
  if (!ref) throw new QuorumError('source-not-found', `none of the tags ${source.refs.join(', ')} exists in ${source.repo}`);
  const commit = now!.get(ref)!;
  const pin = canonical ? store.pinSource({ purl: release.purl, repo: source.repo, ref, commit, releaseId: release.id }) : undefined;
  return {
    ...source,
    commit: pin?.commit ?? commit,
    ref,
    ...(pin ? { firstSeenAt: pin.firstSeenAt } : {}),
    steps: [...source.steps, `tag ${ref} resolves to ${pin?.commit ?? commit}`],
  };
}
