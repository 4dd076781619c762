import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isQuorumError, parseReleasePurl, QuorumError, type PinnedSource, type ReleaseRecord } from '@quorum/core';
import { gitLsRemote, gitTarget } from '@quorum/net';
import type { CoordinatorContext } from './context.js';
import { findVersionCommit } from './find-version-commit.js';

/**
 * Pins the commit of a release whose recipe names only candidate tags, before any build: every
 * builder statement must then name this very commit. For the package's own source the first
 * resolution the farm saw wins (a tag moved later is recorded as `moved`, and every view of the
 * release says so loudly), so a tag rewritten after publication cannot silently change what a
 * canonical verdict is about. When none of the tags exists (and the submitter named none), the
 * repository's history is searched for the commit that set the release's version; the pin records
 * how its commit was found (`found`), and workers check such a commit themselves. What workers will
 * resolve differently from the pin (a tag earlier in the candidate order appeared, the tag first seen
 * is gone, the tags could not be looked up) is a WARNING step of the pin.
 */
export async function pinSource(ctx: CoordinatorContext, release: ReleaseRecord): Promise<PinnedSource | undefined> {
  const source = release.source;
  if (!source || source.commit || source.refs.length === 0) return undefined;
  const { store, config, egress } = ctx;
  const canonical = release.canonical;
  const firstSeen = canonical ? source.refs.map((ref) => store.sourcePin(release.purl, source.repo, ref)).find((p) => p !== undefined) : undefined;
  let now: Map<string, string> | undefined;
  let lookupFailure: unknown;
  // the git client fetches from the operator's mirror, if there is one; this only says so
  const fetchedFrom = gitTarget(source.repo, egress.gitMirrors).mirrored ? [`${source.repo} fetched from the operator's mirror`] : [];
  try {
    now = await gitLsRemote(source.repo, source.refs, { policy: egress, allowLocal: config.allowLocalRepos });
  } catch (e) {
    // a pin already seen stands on its own; without one, the fault or refusal is the caller's to handle
    if (!firstSeen) throw e;
    lookupFailure = e;
  }
  if (firstSeen) {
    const current = now?.get(firstSeen.ref);
    const moved = current && current !== firstSeen.commit ? { ref: firstSeen.ref, commit: current, seenAt: new Date().toISOString() } : undefined;
    const steps = [...source.steps, ...fetchedFrom, `tag ${firstSeen.ref} first seen at ${firstSeen.commit} (${firstSeen.firstSeenAt})`];
    if (moved) steps.push(`WARNING: tag ${moved.ref} now points at ${moved.commit}: it moved after the farm first saw it`);
    if (now) {
      // workers build from the first candidate that resolves as they look it up, not from the pin
      const first = source.refs.find((r) => now!.has(r));
      if (!current) steps.push(`WARNING: tag ${firstSeen.ref} no longer exists: it was deleted after the farm first saw it; the release stays pinned to ${firstSeen.commit}`);
      if (first !== undefined && first !== firstSeen.ref && now.get(first) !== firstSeen.commit) {
        steps.push(
          `WARNING: tag ${first}, earlier in the candidate order than ${firstSeen.ref}, now exists and points at ${now.get(first)}: builders resolving the tags find it, not the pinned ${firstSeen.commit}`,
        );
      }
    } else {
      const why = isQuorumError(lookupFailure) ? lookupFailure.message : 'the look-up failed';
      steps.push(`WARNING: the tags could not be looked up now (${why}): whether ${firstSeen.ref} still points at ${firstSeen.commit} is unknown`);
    }
    const againstRegistry = moved ? undefined : movedSinceRecorded(source, firstSeen.ref, current ?? firstSeen.commit, steps);
    const anyMove = moved ?? againstRegistry;
    return { ...source, commit: firstSeen.commit, ref: firstSeen.ref, found: 'tag', firstSeenAt: firstSeen.firstSeenAt, steps, ...(anyMove ? { moved: anyMove } : {}) };
  }
  const ref = source.refs.find((r) => now!.has(r));
  if (!ref) return pinFromHistory(ctx, release, { ...source, steps: [...source.steps, ...fetchedFrom] });
  const commit = now!.get(ref)!;
  const pin = canonical ? store.pinSource({ purl: release.purl, repo: source.repo, ref, commit, releaseId: release.id }) : undefined;
  const steps = [...source.steps, ...fetchedFrom, `tag ${ref} resolves to ${pin?.commit ?? commit}`];
  const moved = movedSinceRecorded(source, ref, commit, steps);
  return {
    ...source,
    commit: pin?.commit ?? commit,
    ref,
    found: 'tag',
    ...(pin ? { firstSeenAt: pin.firstSeenAt } : {}),
    steps,
    ...(moved ? { moved } : {}),
  };
}

/**
 * The move of a tag away from the commit the registry recorded for it when the release was published
 * (a module proxy keeps serving what it first fetched while the repository's tag is rewritten: how a
 * backdoored Go module hid behind clean code). The release is still built from the tag as the farm
 * resolves it; the move is a WARNING step and is shown wherever the release is.
 */
function movedSinceRecorded(source: PinnedSource, ref: string, commit: string, steps: string[]): PinnedSource['moved'] {
  const recorded = source.recorded;
  if (!recorded || recorded.ref !== ref || recorded.commit === commit) return undefined;
  steps.push(`WARNING: tag ${ref} points at ${commit}, but the registry recorded it at ${recorded.commit} when the release was published: the tag moved`);
  return { ref, commit, seenAt: new Date().toISOString(), registryCommit: recorded.commit };
}

/** The commit that set the release's version, when no tag names the release. */
async function pinFromHistory(ctx: CoordinatorContext, release: ReleaseRecord, source: PinnedSource): Promise<PinnedSource> {
  const none = `none of the tags ${source.refs.join(', ')} exists in ${source.repo}`;
  // a tag the submitter named is what they asked for: nothing else stands in for it
  if (release.overrides.ref) throw new QuorumError('source-not-found', none);
  const tmpDir = join(ctx.config.dataDir, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  const found = await findVersionCommit(
    {
      repo: source.repo,
      ...(source.directory ? { directory: source.directory } : {}),
      ecosystem: release.ecosystem,
      purl: parseReleasePurl(release.purl),
      ...(source.publishedAt ? { publishedAt: source.publishedAt } : {}),
    },
    { policy: ctx.egress, allowLocal: ctx.config.allowLocalRepos, tmpDir },
  );
  const late = found.late ? `; ${found.late} that set it later than the release was published left out` : '';
  const looked = `${found.searched} commit${found.searched === 1 ? '' : 's'} that changed ${found.file} searched${found.truncated ? ' (the newest only)' : ''}${late}`;
  if (!found.commit) {
    throw new QuorumError('source-not-found', `${none}, and no commit of its history sets ${found.name}@${found.version} in ${found.file} (${looked})`);
  }
  const where = found.otherBranch ? ', held by no tag and not by the default branch' : '';
  return {
    ...source,
    commit: found.commit,
    found: 'history',
    steps: [...source.steps, `${none}: found by history search, commit ${found.commit} is the newest that sets ${found.name}@${found.version} in ${found.file}${where} (${looked})`],
  };
}
