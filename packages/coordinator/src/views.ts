import type { RebuildRecord, RebuildView, ReleaseRecord, ReleaseView, VerdictRecord, WorkerView } from '@quorum/core';
import { movedTagWarning, packagePurl, parseAnyPurl } from '@quorum/core';
import type { WorkerRecord } from './sqlite-store.js';

/** Serves a rebuild; compares its artifact with the published one for the reader. */
export function rebuildView(r: RebuildRecord & { bundleSha256?: string }, release: ReleaseRecord): RebuildView {
  const rep = r.report;
  const art = rep?.artifact;
  const pub = release.published;
  const matchesPublished = art && pub ? (art.sha256 === pub.sha256 ? 'bitwise' : art.stabilizedSha256 === pub.stabilizedSha256 ? 'stabilized' : 'no') : undefined;
  return {
    id: r.id,
    workerId: r.workerId,
    operator: r.operator,
    state: r.state,
    attempt: r.attempt,
    ...(rep?.reason ? { reason: rep.reason } : {}),
    ...(rep?.message ? { message: rep.message } : {}),
    ...(rep?.source ? { source: rep.source } : {}),
    ...(rep?.toolchain ? { toolchain: rep.toolchain } : {}),
    ...(rep?.toolchainUsed ? { toolchainUsed: rep.toolchainUsed } : {}),
    ...(rep?.imageDigest ? { imageDigest: rep.imageDigest } : {}),
    ...(art ? { artifact: art } : {}),
    ...(matchesPublished ? { matchesPublished } : {}),
    durations: { ...(rep?.timings ?? {}) },
    ...(rep?.exitCode !== undefined ? { exitCode: rep.exitCode } : {}),
    ...(r.logSha256 ? { logUrl: `/v1/rebuilds/${r.id}/log`, logBytes: r.logBytes ?? 0 } : {}),
    ...(r.bundleSha256 ? { bundleUrl: `/v1/rebuilds/${r.id}/bundle` } : {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Serves a release with its rebuilds and verdict history. */
export function releaseView(release: ReleaseRecord, rebuilds: (RebuildRecord & { bundleSha256?: string })[], history: VerdictRecord[]): ReleaseView {
  const pkg = packagePurl(parseAnyPurl(release.purl));
  const warning = release.source ? movedTagWarning(release.source) : undefined;
  return {
    id: release.id,
    purl: release.purl,
    ecosystem: release.ecosystem,
    state: release.state,
    overrides: release.overrides,
    ...(release.source ? { source: release.source } : {}),
    canonical: release.canonical,
    ...(release.submittedBy ? { submittedBy: release.submittedBy } : {}),
    policy: release.policy,
    ...(release.upstream ? { upstream: release.upstream } : {}),
    ...(release.published ? { published: release.published } : {}),
    ...(release.problem ? { problem: release.problem } : {}),
    ...(release.verdict ? { verdict: release.verdict } : {}),
    verdictHistory: history,
    rebuilds: rebuilds.map((r) => rebuildView(r, release)),
    links: { self: `/v1/releases/${release.id}`, package: `/v1/packages/${encodeURIComponent(pkg)}` },
    ...(warning ? { warnings: [warning] } : {}),
    createdAt: release.createdAt,
    updatedAt: release.updatedAt,
  };
}

/** A worker is alive while its last heartbeat is at most `timeoutMs` old. */
export function isAlive(w: Pick<WorkerRecord, 'lastSeenMs'>, timeoutMs: number, nowMs = Date.now()): boolean {
  return nowMs - w.lastSeenMs <= timeoutMs;
}

/** Serves a worker. */
export function workerView(w: WorkerRecord, timeoutMs: number, nowMs = Date.now()): WorkerView {
  return { id: w.id, operator: w.operator, alive: isAlive(w, timeoutMs, nowMs), lastSeenAt: w.lastSeenAt, images: w.images, running: w.running };
}
