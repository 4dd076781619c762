import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { bundleKeyHint, isAttestError, parseVsa, recountQuorum, verifyBundle } from '@quorum/attest';
import { analyzeArtifact } from '@quorum/compare';
import { isPlainPurlOf, isQuorumError, packagePurl, readReleaseMetadata, type Builder, type ReleasePurl } from '@quorum/core';
import { downloadPinned, egressPolicy } from '@quorum/net';
import { builderSettingsFrom, registriesFrom } from '@quorum/ecosystems';
import { CliError, DEFAULT_REQUEST_TIMEOUT_MS, type ApiClient } from './api-client.js';
import { DEFAULT_VERIFY_QUORUM, parseTrust, readTrustFile, type TrustFile } from './trust.js';
import { builderRows, claimAgrees, type Recount, type SourceCheck, type VerifyOutcome, type VsaCheck, type VsaClaims } from './verify-report.js';

/** A consumer's own machine: the registry the consumer names is fetched wherever it is. */
const CONSUMER_EGRESS = egressPolicy({ open: true });

/** Options of `quorum verify`. */
export interface VerifyOptions {
  /** the artifact file to check; @defaultValue the published artifact, downloaded from the registry */
  artifact?: string;
  /** the pinned trust file; @defaultValue the coordinator's own `GET /v1/keys` (with a warning) */
  trust?: string;
  /** M; @defaultValue the trust material's policy.quorum, else DEFAULT_VERIFY_QUORUM */
  threshold?: number;
  /** registry base URL; @defaultValue QUORUM_<ECO>_REGISTRY, else the builder's default registry */
  registry?: string;
  /** repositories whose statements count although they are not the package's own source (loudly) */
  allowSource?: string[];
}

/** What `verify` needs around it. */
export interface VerifyContext {
  api: ApiClient;
  /** QUORUM_<ECO>_REGISTRY settings */
  env: NodeJS.ProcessEnv;
  /** a warning line for stderr */
  warn: (line: string) => void;
}

/** Printed when `verify` has to trust the coordinator's own key list. */
export const SERVER_TRUST_WARNING =
  "no --trust file: trusting the coordinator's own key list (GET /v1/keys). A compromised coordinator could list keys it " +
  'controls, which defeats the purpose of verifying; pin the keys once with `quorum keys export --out quorum-trust.json` ' +
  'and pass --trust quorum-trust.json';

/** One builder entry of `GET /v1/attestations/:purl`. */
export interface ServedBuilder {
  rebuildId?: string;
  workerId?: string;
  operator?: string;
  state?: string;
  bundle: unknown;
}

/** The answer of `GET /v1/attestations/:purl`, checked for shape only: nothing in it is trusted. */
export interface ServedAttestations {
  purl?: string;
  releaseId?: string;
  verdict?: string | null;
  published: { sha256?: string } | null;
  vsa: unknown;
  builders: ServedBuilder[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Checks the shape of an attestations answer; throws CliError('bad-answer'). */
export function parseServedAttestations(value: unknown, server: string): ServedAttestations {
  if (!isObject(value) || !Array.isArray(value.builders)) {
    throw new CliError('bad-answer', `the coordinator at ${server} sent an attestations answer without a "builders" list`);
  }
  const builders = value.builders.map((b: unknown): ServedBuilder => {
    if (!isObject(b)) return { bundle: b };
    const entry: ServedBuilder = { bundle: b.bundle };
    for (const key of ['rebuildId', 'workerId', 'operator', 'state'] as const) {
      const s = optionalString(b[key]);
      if (s !== undefined) entry[key] = s;
    }
    return entry;
  });
  const out: ServedAttestations = { published: null, vsa: value.vsa ?? null, builders };
  const purl = optionalString(value.purl);
  if (purl !== undefined) out.purl = purl;
  const releaseId = optionalString(value.releaseId);
  if (releaseId !== undefined) out.releaseId = releaseId;
  if (typeof value.verdict === 'string' || value.verdict === null) out.verdict = value.verdict;
  if (isObject(value.published)) out.published = { ...(typeof value.published.sha256 === 'string' ? { sha256: value.published.sha256 } : {}) };
  return out;
}

/** The trust material: the pinned file, else the coordinator's own list (with a warning). */
async function loadTrust(opts: VerifyOptions, ctx: VerifyContext): Promise<{ trust: TrustFile; source: 'file' | 'server'; location: string }> {
  if (opts.trust !== undefined) return { trust: readTrustFile(opts.trust), source: 'file', location: opts.trust };
  ctx.warn(SERVER_TRUST_WARNING);
  const location = ctx.api.url('/v1/keys');
  return { trust: parseTrust(await ctx.api.getKeys(), `the answer of GET ${location}`, 'bad-answer'), source: 'server', location };
}

/** Artifact digests the recount compares with. */
type ArtifactDigests = VerifyOutcome['artifact'];

/** sha256 and sha512 of a file's bytes, in one streamed pass. */
async function rawDigests(file: string): Promise<{ sha256: string; sha512: string }> {
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    sha256.update(chunk);
    sha512.update(chunk);
  }
  return { sha256: sha256.digest('hex'), sha512: sha512.digest('hex') };
}

/**
 * Digests of the artifact: raw sha256 and sha512 plus the stabilized sha256. An artifact that is
 * not a valid archive of the ecosystem's format (e.g. a corrupted byte) is still compared byte
 * for byte; `problem` says why there is no stabilized digest.
 */
async function digestsOf(builder: Builder, file: string): Promise<Pick<ArtifactDigests, 'sha256' | 'sha512' | 'stabilizedSha256'> & { problem?: string }> {
  try {
    const a = await analyzeArtifact(builder.artifactFormat, file, { stabilizers: builder.stabilizers });
    return { sha256: a.sha256, sha512: a.sha512, stabilizedSha256: a.stabilizedSha256 };
  } catch (e) {
    if (!isQuorumError(e, 'invalid-input', 'unsafe-archive')) throw e;
    return { ...(await rawDigests(file)), problem: `the artifact is not a valid ${builder.artifactFormat} (${e.message}); it was compared byte for byte only` };
  }
}

/** Reads a JSON (or text) document from a registry; failures are CliErrors naming the URL. */
async function registryDocument(url: string, as: 'json' | 'text' | 'bytes' = 'json'): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: as === 'json' ? 'application/json' : 'text/plain' }, signal: AbortSignal.timeout(DEFAULT_REQUEST_TIMEOUT_MS) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new CliError('unreachable', `cannot reach the registry at ${url}: ${cause}`, { cause: e });
  }
  if (!res.ok) throw new CliError('http', `the registry answered HTTP ${res.status} for ${url}`, { status: res.status });
  if (as === 'text') return res.text();
  if (as === 'bytes') return Buffer.from(await res.arrayBuffer());
  try {
    return JSON.parse(await res.text());
  } catch (e) {
    throw new CliError('bad-answer', `the registry sent something that is not JSON for ${url}`, { cause: e });
  }
}

/** The registry base URL: --registry, else QUORUM_<ECO>_REGISTRY, else the builder's default. */
function registryOf(purl: ReleasePurl, opts: VerifyOptions, env: NodeJS.ProcessEnv): string {
  if (opts.registry !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.registry);
    } catch {
      throw new CliError('usage', `invalid registry URL "${opts.registry}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError('usage', `invalid registry URL "${opts.registry}": only http and https are supported`);
    return opts.registry;
  }
  const registry = registriesFrom(env)[purl.type];
  if (!registry) throw new CliError('usage', `no registry is known for ${purl.type}; give one with --registry`);
  return registry;
}

/**
 * The published artifact, fetched like a worker does: registry metadata, the artifact URL and
 * integrity it names, the download checked against that integrity, then analyzed.
 */
async function registryArtifact(purl: ReleasePurl, builder: Builder, metadata: unknown): Promise<ArtifactDigests & { problem?: string }> {
  const inference = builder.inferRecipe(purl, metadata, {});
  const upstream = inference.upstream;
  if (!upstream) throw new CliError('bad-answer', `the registry names no artifact for ${purl.canonical}: ${inference.ok ? 'no download URL' : inference.message}`);
  const dir = await mkdtemp(join(tmpdir(), 'quorum-verify-'));
  try {
    const file = join(dir, basename(upstream.filename) || 'artifact');
    // a registry that pins no digest leaves the download unchecked here; the recount compares its digest with the statements'
    await downloadPinned(upstream.url, builder.artifactIntegrity === 'none' ? undefined : upstream.integrity, file, { policy: CONSUMER_EGRESS }).catch((e: unknown) => {
      if (!isQuorumError(e, 'integrity-mismatch')) throw e;
      throw new CliError('bad-answer', `the artifact downloaded from ${upstream.url} does not match the registry's integrity ${upstream.integrity}`);
    });
    const digests = await digestsOf(builder, file);
    const problem = builder.integrityProblem?.(upstream.integrity, digests);
    if (problem) throw new CliError('bad-answer', `the artifact downloaded from ${upstream.url}: ${problem}`);
    return { ...digests, source: 'registry', location: upstream.url };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The source a statement must name to count: what the registry declares for this version, else the
 * operator mapping the consumer pinned in the trust material, plus the repositories given with
 * --allow-source. Inferred with the ecosystem's own builder, exactly as the farm infers it.
 */
export function expectedSource(purl: ReleasePurl, builder: Builder, metadata: unknown, trust: TrustFile, allowed: string[]): SourceCheck {
  const pkg = packagePurl(purl);
  const mapping = trust.sourceMappings?.find((m) => m.packagePurl === pkg);
  const inferred = builder.inferRecipe(purl, metadata, {}, mapping ? { repo: mapping.repo, ...(mapping.directory ? { directory: mapping.directory } : {}) } : undefined);
  if (!inferred.ok) return { from: 'none', repo: null, directory: null, commit: null, refs: [], allowed };
  const s = inferred.source;
  return {
    from: s.origin === 'mapping' ? 'mapping' : 'registry',
    repo: s.repo,
    directory: s.directory ?? null,
    commit: s.commit ?? null,
    refs: s.refs,
    ...(s.origin === 'mapping' && mapping?.by ? { mappedBy: mapping.by } : {}),
    allowed,
  };
}

/** Verifies the VSA with the coordinator key of the trust material and compares its claim with the recount. */
export async function checkVsa(vsa: unknown, trust: TrustFile, purl: ReleasePurl, artifact: { sha256: string; sha512?: string }, recount: Recount): Promise<VsaCheck> {
  if (vsa === null || vsa === undefined) return { present: false, signatureValid: false, claims: null, agreesWithRecount: null, problems: [] };
  const hint = bundleKeyHint(vsa);
  const base = { present: true, ...(hint !== undefined ? { keyId: hint } : {}) };
  if (!trust.coordinator) {
    return { ...base, signatureValid: false, claims: null, agreesWithRecount: null, problems: ['the trust material has no coordinator key to check it with'] };
  }
  let statement;
  try {
    statement = (await verifyBundle(vsa, [trust.coordinator])).statement;
  } catch (e) {
    const why = isAttestError(e, 'untrusted-key') ? `not signed by the trusted coordinator key ${trust.coordinator.keyId}: ${e.message}` : (e as Error).message;
    return { ...base, signatureValid: false, claims: null, agreesWithRecount: null, problems: [why] };
  }
  let parsed;
  try {
    parsed = parseVsa(statement);
  } catch (e) {
    return { ...base, signatureValid: true, claims: null, agreesWithRecount: null, problems: [`signed, but not a Quorum VSA: ${(e as Error).message}`] };
  }
  const claims: VsaClaims = {
    result: parsed.result,
    verdict: parsed.verdict,
    reason: parsed.reason,
    levels: parsed.levels,
    purl: parsed.purl,
    releaseId: parsed.releaseId,
    subjectSha256: parsed.subject.sha256 ?? null,
    subjectSha512: parsed.subject.sha512 ?? null,
    // read from the verified statement only, never from the coordinator's unsigned answer
    ...(parsed.risk ? { risk: { level: parsed.risk.level, text: parsed.risk.text } } : {}),
  };
  const problems: string[] = [];
  if (!samePurl(parsed.purl, purl)) problems.push(`it is about ${parsed.purl}, not ${purl.canonical}`);
  // the subject names sha256, sha512 or both (sha512 alone when the coordinator had only the registry's integrity)
  const subject = parsed.subject;
  if (subject.sha256 !== undefined) {
    if (subject.sha256 !== artifact.sha256) problems.push(`it is about the artifact sha256 ${subject.sha256}, not the one checked (${artifact.sha256})`);
  } else if (subject.sha512 !== undefined && subject.sha512 !== artifact.sha512) {
    problems.push(`it is about the artifact sha512 ${subject.sha512}, not the one checked (${artifact.sha512 ?? 'unknown'})`);
  }
  const verifierId = trust.coordinator.verifierId;
  if (verifierId !== undefined && parsed.verifierId !== verifierId) problems.push(`its verifier is ${parsed.verifierId}, the trust file names ${verifierId}`);
  return { ...base, signatureValid: true, claims, agreesWithRecount: claimAgrees(claims, recount), problems };
}

/** The VSA must be about exactly this release: a qualified purl (an override's `vcs_url`) is another resource. */
function samePurl(claimed: string, purl: ReleasePurl): boolean {
  return isPlainPurlOf(claimed, purl.canonical);
}

/**
 * `quorum verify`: recounts the quorum of a release from its builder bundles with the trusted keys
 * only, against the artifact the consumer holds (or the published one), and checks the
 * coordinator's signed verdict against that recount. The recount decides; the VSA is reported.
 */
export async function runVerify(purl: ReleasePurl, builder: Builder, opts: VerifyOptions, ctx: VerifyContext): Promise<VerifyOutcome> {
  if (opts.artifact !== undefined) {
    // a usage error before any request
    try {
      await access(opts.artifact, constants.R_OK);
    } catch (e) {
      throw new CliError('usage', `cannot read artifact ${opts.artifact}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }
  const { trust, source, location } = await loadTrust(opts, ctx);
  const served = parseServedAttestations(await ctx.api.getAttestations(purl.canonical), ctx.api.server);
  // the registry, not the coordinator, says what the package's own source is
  const metadata = await readReleaseMetadata(builder, purl, registryOf(purl, opts, ctx.env), (url, as) => registryDocument(url, as), builderSettingsFrom(ctx.env)[builder.ecosystem]);
  const expected = expectedSource(purl, builder, metadata, trust, opts.allowSource ?? []);
  const { problem: artifactProblem, ...artifact }: ArtifactDigests & { problem?: string } =
    opts.artifact !== undefined ? { ...(await digestsOf(builder, opts.artifact)), source: 'file', location: opts.artifact } : await registryArtifact(purl, builder, metadata);
  const quorum = opts.threshold ?? trust.policy?.quorum ?? DEFAULT_VERIFY_QUORUM;
  const distinctOperators = trust.policy?.distinctOperators ?? true;
  const recount = await recountQuorum({
    purl: purl.canonical,
    artifact: {
      sha256: artifact.sha256,
      ...(artifact.sha512 !== undefined ? { sha512: artifact.sha512 } : {}),
      ...(artifact.stabilizedSha256 !== undefined ? { stabilizedSha256: artifact.stabilizedSha256 } : {}),
    },
    bundles: served.builders.map((b) => b.bundle),
    trustedBuilders: trust.builders.map((b) => ({ workerId: b.workerId, operator: b.operator, keyId: b.keyId, publicKeyPem: b.publicKeyPem })),
    quorum,
    distinctOperators,
    source: {
      repo: expected.repo ?? '',
      ...(expected.directory ? { directory: expected.directory } : {}),
      ...(expected.commit ? { commit: expected.commit } : {}),
      refs: expected.refs,
      allowRepos: expected.allowed,
    },
  });
  const vsa = await checkVsa(served.vsa, trust, purl, artifact, recount);
  const notes: string[] = [];
  if (artifactProblem) notes.push(artifactProblem);
  if (served.published?.sha256 && served.published.sha256 !== artifact.sha256) {
    notes.push(`the coordinator's published artifact has sha256 ${served.published.sha256}, not the one checked`);
  }
  if (trust.builders.length === 0) notes.push('the trust material lists no builder keys: nothing can be counted');
  const resolvedLocks = new Set(recount.builders.filter((b) => b.counted && b.resolvedLockfileSha256).map((b) => b.resolvedLockfileSha256));
  if (resolvedLocks.size > 0) {
    notes.push(
      `the source commits no lockfile: the counted builders resolved its dependencies from the registry as it stood at the publish time (lockfile sha256 ${[...resolvedLocks].join(', ')}); the registry alone pins them`,
    );
  }
  const outcome: VerifyOutcome = {
    purl: purl.canonical,
    artifact,
    trust: { source, location },
    distinctOperators,
    recount,
    source: expected,
    builders: builderRows(served.builders, recount, {
      keyIds: new Set(trust.builders.map((b) => b.keyId)),
      name: source === 'file' ? 'the trust file' : "the coordinator's key list",
    }),
    vsa,
    notes,
  };
  if (served.releaseId !== undefined) outcome.releaseId = served.releaseId;
  if (served.verdict !== undefined) outcome.coordinatorVerdict = served.verdict;
  return outcome;
}
