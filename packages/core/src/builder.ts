import type { Static } from 'typebox';
import type { ResolvedSourceSchema, SourceOriginSchema, SourceOverridesSchema, UpstreamArtifactSchema } from './api-schemas.js';
import type { ReleasePurl } from './purl.js';
import type { ArtifactDigests } from './artifact.js';
import type { FileDifference, RiskSummary } from './risk.js';
import type { LockfileReading } from './audit.js';
import type { RegistryGate } from './registry-gate.js';
import { registrySettingName } from './config-values.js';

/** Overrides a submitter may give for the source of a release. */
export type SourceOverrides = Static<typeof SourceOverridesSchema>;

/**
 * Where a release's source comes from: what the registry declares (canonical), an operator's
 * recorded mapping for a package whose registry entry names no usable source (canonical too), or a
 * submitter's override (never answers for the purl).
 */
export type SourceOrigin = Static<typeof SourceOriginSchema>;

/** True for the origins whose verdicts answer for the purl. */
export function isCanonicalOrigin(origin: SourceOrigin | undefined): boolean {
  return origin === 'registry' || origin === 'mapping';
}

/** An operator's record of a package's source repository, used when the registry declares none. */
export interface SourceMapping {
  repo: string;
  /** package directory inside the repository (monorepos) */
  directory?: string;
}

/** The published artifact of a release as the registry describes it. */
export type UpstreamArtifact = Static<typeof UpstreamArtifactSchema>;

/**
 * Where the source should be and how to find the commit, in the order to try.
 * `commit` wins when present; otherwise each of `tags` is tried in order.
 */
export interface SourceRecipe {
  /** where the repository (and commit) came from */
  origin: SourceOrigin;
  repo: string;
  /** commit SHA (from registry metadata or override) */
  commit?: string;
  /** candidate refs to resolve, in order */
  refs: string[];
  /** subdirectory of the package inside the repository (monorepos) */
  directory?: string;
  /** the commit the registry recorded for one of `refs` when the release was published: a tag found elsewhere now is a moved tag */
  recorded?: { ref: string; commit: string };
  /** how each field was found, in order, for the record */
  steps: string[];
}

/** What a builder infers from registry metadata for one release. */
export type RecipeInference =
  | {
      ok: true;
      upstream: UpstreamArtifact;
      source: SourceRecipe;
      /** exact tool versions the build must run (e.g. `{ node, npm }`), recorded or chosen by the builder's rule */
      toolchain: Record<string, string>;
      /** when the registry says the release was published (ISO 8601), if it says */
      publishedAt?: string;
      /** facts every verdict on this recipe should carry (e.g. a tool version was inferred, not recorded) */
      notes?: string[];
      /** what the metadata says of the published artifact that `decideInputs` may weigh (builder-defined, e.g. a field the published manifest lacks) */
      facts?: Record<string, string>;
    }
  | { ok: false; code: 'version-not-found' | 'source-not-found' | 'source-refused' | 'no-artifact' | 'toolchain-unavailable'; message: string; upstream?: UpstreamArtifact };

/** A recipe after the fetch phase resolved it to an exact commit. */
export type ResolvedSource = Static<typeof ResolvedSourceSchema>;

/** Resource limits of one build container. */
export interface BuildLimits {
  /** @defaultValue 1536 MiB */
  memoryBytes: number;
  /** @defaultValue 256 */
  pids: number;
  /** CPUs as a fraction, e.g. 1 = one core; @defaultValue 1 */
  cpus: number;
  /** wall-clock limit; @defaultValue 10 min */
  timeoutMs: number;
  /** size of the writable scratch area at `/tmp` (disk-backed or tmpfs, as the sandbox is set up); @defaultValue 6 GiB */
  scratchBytes: number;
}

/** Serializable instructions for one hermetic build; executed only by a Sandbox. */
export interface BuildPlan {
  /** image reference by content digest (`sha256:…` image id) */
  image: string;
  argv: string[];
  env: Record<string, string>;
  /** where the source tree is mounted read-only inside the container */
  sourceMount: string;
  /** where the container writes its outputs (the only writable bind mount) */
  outputMount: string;
  /** where the fetched inputs (toolchain, dependencies) are mounted read-only, when the build has any */
  inputsMount?: string;
  /**
   * where the worker's registry view is mounted read-only: a directory holding the Unix socket
   * `registry.sock`, an HTTP registry that answers reads only, fetched by the worker under its egress
   * policy. Only a dependency resolution gets it; a build never does.
   */
  registryMount?: string;
  /** file name pattern of the artifact inside outputMount (a simple `*` glob) */
  artifactGlob: string;
  /** file inside outputMount where the build records the exact tool versions it ran (a JSON object of strings) */
  toolchainFile?: string;
  workdir: string;
  /** uid:gid the build runs as (never root) */
  user: string;
  limits: BuildLimits;
}

/** A file the fetch phase downloads, checks against its integrity and hands to the build read-only. */
export interface BuildInput {
  url: string;
  /** Subresource-Integrity string the download must match */
  integrity: string;
  /** where it lands under the inputs mount, e.g. `deps/…tgz` (no `..`, relative) */
  path: string;
}

/** A package of the ecosystem's own registry the build needs as a tool (e.g. a pinned npm). */
export interface ToolRequest {
  /** the tool as a purl with its exact version, e.g. `pkg:npm/npm@6.14.18` */
  purl: string;
  /** where its artifact lands under the inputs mount (with `files`: the directory they are unpacked into) */
  path: string;
  /**
   * unpack only these regular files of the tool's artifact (entry path → path below `path`, keeping
   * the execute bit) on the worker, instead of handing the build the artifact itself
   */
  files?: Record<string, string>;
  /**
   * the integrity the builder pins for this tool release, independent of the registry: the download
   * must match it (a registry must not be able to hand the builders another tool)
   */
  integrity: string;
}

/**
 * A package of the ecosystem's own registry whose lockfile pins something other than its artifact
 * (yarn 2+ pins its own cache archive): the fetch phase takes the artifact's integrity from the
 * registry's metadata, and the build's own tool checks the package against the lockfile again.
 */
export interface RegistryInput {
  /** the package as a purl with its exact version, e.g. `pkg:npm/%40types/ms@0.7.34` */
  purl: string;
  /** where its artifact lands under the inputs mount (no `..`, relative) */
  path: string;
}

/** What the fetch phase must get for a build, decided from files of the source tree (pure). */
export interface InputsDecision {
  tools: ToolRequest[];
  dependencies: BuildInput[];
  /** dependencies checked against the registry's own integrity (see `RegistryInput`); absent = none */
  registryDependencies?: RegistryInput[];
  /** install the dependencies before building */
  install: boolean;
  /** facts the verdict should carry (e.g. the dependency set was not pinned) */
  notes: string[];
  /** a reason the release cannot be rebuilt hermetically, when there is one */
  problem?: { code: string; message: string };
  /** facts read from the source that the builder's own `plan()` needs (passed through unchanged) */
  planOptions?: Record<string, string>;
  /**
   * the source pins no dependency set (none at all, or one without the integrity of each
   * package): resolve or pin one first with the builder's `resolvePlan`, then decide again with the
   * lockfile it wrote among the files
   */
  resolve?: ResolveRequest;
}

/** What a dependency resolution is given and must produce. */
export interface ResolveRequest {
  /** the only files the resolution sees (name → content), e.g. a manifest reduced to its dependencies */
  files: Record<string, string>;
  /** the file the resolution writes into its output mount, handed to `decideInputs` under this name */
  lockfile: string;
}

/** What the fetch phase put under the inputs mount, for `plan()`. */
export interface FetchedInputs {
  /** tool path under the inputs mount, by tool name */
  tools: Record<string, string>;
  install: boolean;
  dependencyCount: number;
  /** the decision's `planOptions` */
  planOptions?: Record<string, string>;
  /** path under the inputs mount of a lockfile the fetch phase resolved (the source had none) */
  resolvedLockfile?: string;
}

/** Input to a builder's pure `resolvePlan()`. */
export interface ResolvePlanInput {
  purl: ReleasePurl;
  toolchain: Record<string, string>;
  image: string;
  limits: BuildLimits;
  /** the tools the fetch phase put under the inputs mount (no dependencies yet) */
  inputs: FetchedInputs;
  /** the registry as it stood at this time (ISO 8601) is what to resolve against; absent: as it is now */
  before?: string;
}

/** Input to a builder's pure `plan()`. */
export interface PlanInput {
  purl: ReleasePurl;
  source: ResolvedSource;
  /** when the registry says the release was published (ISO 8601), if it says: the time a build that reads the clock should see */
  publishedAt?: string;
  toolchain: Record<string, string>;
  image: string;
  limits: BuildLimits;
  inputs: FetchedInputs;
}

/**
 * How a caller fetches a document a builder reads from its registry: under the caller's own egress
 * policy, size and time limits (`json`: parsed, `text`: UTF-8). A missing document is `not-found`.
 */
export type MetadataFetch = (url: string, as: 'json' | 'text' | 'bytes') => Promise<unknown>;

/** The setting that names a builder's registry. */
export function registrySettingOf(builder: Pick<Builder, 'ecosystem' | 'registrySetting'>): string {
  return builder.registrySetting ?? registrySettingName(builder.ecosystem);
}

/** The registry metadata of a release: what the builder reads (`readMetadata`), else the JSON document at `metadataUrl`. */
export function readReleaseMetadata(builder: Builder, purl: ReleasePurl, registry: string, fetch: MetadataFetch, settings: Record<string, string> = {}): Promise<unknown> {
  return builder.readMetadata ? builder.readMetadata(purl, registry, fetch, { ...builder.settings, ...settings }) : fetch(builder.metadataUrl(purl, registry), 'json');
}

/** One ecosystem: pure functions from metadata to recipes and build plans. */
export interface Builder {
  /** purl type this builder handles */
  readonly ecosystem: string;
  /** default registry base URL */
  readonly defaultRegistry: string;
  /** the setting that names this ecosystem's registry (e.g. `QUORUM_GOPROXY`); @defaultValue `QUORUM_<ECOSYSTEM>_REGISTRY` */
  readonly registrySetting?: string;
  /** image tag the infra scripts build for this builder */
  readonly imageTag: string;
  /** Why a purl cannot name a package of this ecosystem (a name or version its registry cannot have), if it cannot. Pure. */
  purlProblem(purl: { namespace: string | undefined; name: string; version: string | undefined }): string | undefined;
  /** URL of the registry metadata document for a purl that `purlProblem` accepts */
  metadataUrl(purl: ReleasePurl, registry: string): string;
  /**
   * Reads the metadata `inferRecipe` is given, when it is more than the one JSON document at
   * `metadataUrl` (several documents, text, URLs derived from the registry's); every read goes
   * through `fetch`, so the caller's egress policy applies.
   */
  readMetadata?(purl: ReleasePurl, registry: string, fetch: MetadataFetch, settings: Readonly<Record<string, string>>): Promise<unknown>;
  /**
   * the builder's own settings beyond its registry (e.g. `QUORUM_GOSUMDB`), by name, with their
   * defaults: every process reads them like its other `QUORUM_*` settings and hands them to `readMetadata`
   */
  readonly settings?: Readonly<Record<string, string>>;
  /** the origins (`scheme://host:port`) the builder's settings name as services to read, allowed by the egress policy like the registries */
  settingOrigins?(settings: Readonly<Record<string, string>>): string[];
  /**
   * How the registry pins the published artifact: by an SRI string in `UpstreamArtifact.integrity`
   * (`sri`, the default), or not at all (`none`: the integrity is empty, the coordinator's first
   * download is the reference every rebuild and worker compares with, and verdicts say so)
   */
  readonly artifactIntegrity?: 'sri' | 'none';
  /**
   * What is wrong with a downloaded artifact, by its analysis, against an integrity of the builder's
   * own form that is not a byte digest (Go's `h1:` from the checksum database); undefined when nothing
   * is (or the integrity is not of that form). Asked wherever the artifact is downloaded. Pure.
   */
  integrityProblem?(integrity: string, artifact: Partial<Pick<ArtifactDigests, 'stabilizedSha256'>>): string | undefined;
  /**
   * the `accept` header for metadata read only through `artifactIn`: the registry's smaller form of
   * the document, when it has one (read for every locked package that pins no artifact integrity, so
   * size matters); @defaultValue `application/json`
   */
  readonly metadataAccept?: string;
  /**
   * Infers the published artifact and source recipe from the metadata document. Pure. Overrides win;
   * the mapping is used only when the metadata declares no usable source.
   */
  inferRecipe(purl: ReleasePurl, metadata: unknown, overrides: SourceOverrides, mapping?: SourceMapping): RecipeInference;
  /**
   * files (relative to the package directory) the fetch phase reads from the source tree for
   * `decideInputs`; a name starting with `root/` is read from the repository root instead, and only
   * when the package directory is below it (monorepos: the workspace's lockfile)
   */
  readonly planFiles: readonly string[];
  /**
   * a lower size bound in bytes than the fetch phase's general one for some plan files (by name as in
   * `planFiles`), e.g. a lockfile whose parser blocks for a long time on a large one; a file over its
   * bound is refused as `unpinned-dependency`
   */
  readonly planFileLimits?: Readonly<Record<string, number>>;
  /**
   * Decides the tools and locked dependencies to fetch, from the plan files' contents (undefined =
   * absent), the recipe's toolchain and the release (its version: what the source may only have
   * been set to at publish; the inference's and `publishedFacts`' facts about the published artifact). Pure.
   */
  decideInputs(files: Record<string, string | undefined>, toolchain: Record<string, string>, registry: string, release: { version?: string; facts?: Record<string, string> }): InputsDecision;
  /**
   * Facts the published artifact itself shows about how it was made (e.g. line ends a publisher's
   * platform wrote), read from the file after the worker checked its integrity and found it a safe
   * archive; merged into the release's facts that `decideInputs` weighs. Each must be something the
   * source cannot say, and only ever select among ways the builder already knows to build.
   */
  publishedFacts?(artifactFile: string): Promise<Record<string, string>>;
  /**
   * The files the rebuilt artifact lacks that the package itself names as what it is (its entry
   * points) and the published artifact has, as the published artifact names them. The publisher's
   * build made them and this one did not (e.g. the package is built by a step outside it), so the
   * build did not run as the publisher's: the worker reports `build-incomplete` instead of letting a
   * partial artifact be compared. Asked only when the two artifacts differ; both are safe archives.
   * Must answer nothing unless those files are all the difference: a builder that excuses more
   * turns an alarm into a failure.
   */
  missingOutputs?(rebuiltFile: string, publishedFile: string): Promise<string[]>;
  /** The published artifact of one version in a registry metadata document, if it has one. Pure. */
  artifactIn(metadata: unknown, version: string): UpstreamArtifact | undefined;
  /** Builds the hermetic build plan. Pure. */
  plan(input: PlanInput): BuildPlan;
  /**
   * The plan that resolves a dependency set when the source pins none (`InputsDecision.resolve`): it
   * runs in the sandbox like a build, with the request's files as its source, the tools as its inputs
   * and the registry view (`registryMount`) as its only network, and writes the lockfile. Pure.
   */
  resolvePlan?(input: ResolvePlanInput): BuildPlan;
  /**
   * A registry document as it stood at `before` (ISO 8601): what a resolution as of the publish time
   * reads, so that what changed since (versions published later, tags moved, deprecations) cannot
   * change what it resolves. Pure; an unreadable document is returned unchanged.
   */
  documentAsOf?(body: Uint8Array, before: string): Uint8Array;
  /** artifact container format: the id of a format the compare package registers (its analyzer and differ), e.g. `tgz`, `zip`, `dirhash` */
  readonly artifactFormat: string;
  /**
   * the stabilizers (names of the format's) the comparison applies to this ecosystem's artifacts:
   * the format's others stay part of the stabilized digest
   */
  readonly stabilizers: readonly string[];
  /**
   * Names the cause of a failed build when the ecosystem's tools named it in the log (e.g. a tarball
   * that does not match the lockfile: `integrity-mismatch`), as a reason and a short message; else
   * undefined, and the failure is `build-error`. Pure.
   */
  explainFailure?(log: string): { reason: string; message: string } | undefined;
  /**
   * How dangerous the difference of a `mismatch` is (install scripts or executable code vs
   * documentation), from the file-level difference between the rebuilt and the published artifact;
   * reads only small entries through `diff.readText`. Without it a mismatch carries no risk summary.
   */
  assessRisk?(diff: FileDifference): Promise<RiskSummary>;
  /**
   * The lockfile names a consumer's project may have, in the order the ecosystem's own tool prefers
   * them (e.g. a shrinkwrap before a lockfile); what an audit looks for when given no file.
   */
  readonly lockfileNames?: readonly string[];
  /**
   * Every package a consumer's lockfile installs (whatever platform it is for), as purls of this
   * ecosystem with the integrity the lockfile pins each by, and what it installs from elsewhere.
   * `fileName` is the file's base name; an unreadable or hostile lockfile is `ok: false`. A package
   * pinned by nothing the farm can compare and downloaded from a host that is neither the
   * ecosystem's public registry nor one of `opts.registries` is from elsewhere. Pure.
   */
  readLockfile?(fileName: string, text: string, opts?: { registries?: readonly string[] }): LockfileReading;
  /** the registry protocol a gate speaks to this ecosystem's clients (`quorum gate`), when it has one */
  readonly registryGate?: RegistryGate;
}

/** @defaultValue the limits used when the farm config says nothing */
export const DEFAULT_LIMITS: Readonly<BuildLimits> = Object.freeze({
  memoryBytes: 1536 * 1024 * 1024,
  pids: 256,
  cpus: 1,
  timeoutMs: 10 * 60 * 1000,
  scratchBytes: 6 * 1024 * 1024 * 1024,
});
