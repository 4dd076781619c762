/**
 * The shapes of the coordinator's public API, each defined once as a JSON Schema (TypeBox): the
 * routes validate requests with them, the OpenAPI document at `/openapi.json` is generated from them,
 * and the TypeScript types of the records and views are derived from them (`Static`), so the code,
 * the validation and the documentation cannot drift apart.
 */
import Type from 'typebox';
import { WORKER_ID_PATTERN } from './contract.js';

const desc = (description: string) => ({ description });

/** The five verdicts of DESIGN.md. */
export const VERDICTS = ['reproducible', 'equivalent', 'mismatch', 'unreproducible', 'failed'] as const;
export const VerdictSchema = Type.Enum(VERDICTS, desc('reproducible and equivalent pass; mismatch, unreproducible and failed do not'));

/** The levels from least to most dangerous. */
export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export const RiskLevelSchema = Type.Enum(RISK_LEVELS);

export const SourceOriginSchema = Type.Enum(['registry', 'mapping', 'override'] as const, desc('registry and mapping sources answer for the purl; an override never does'));
export const SourceFoundSchema = Type.Enum(['commit', 'tag', 'history'] as const, desc('how the pinned commit was found'));

const StringMap = (description?: string) => Type.Record(Type.String(), Type.String(), description ? desc(description) : {});

export const ApiErrorSchema = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) }, desc('every 4xx/5xx answer'));

export const ArtifactDigestsSchema = Type.Object(
  {
    size: Type.Integer(desc('size in bytes of the raw artifact')),
    sha256: Type.String(desc('sha256 of the raw bytes, hex')),
    sha512: Type.String(desc('sha512 of the raw bytes, hex')),
    stabilizedSha256: Type.String(desc('sha256 of the stabilized form (canonical manifest of the normalized contents), hex')),
    facets: StringMap('one digest per stabilizer of the facet it normalizes: two artifacts with equal stabilized digests differ exactly in the facets whose digests differ'),
    stabilizersApplied: Type.Array(Type.String(), desc('stabilizers whose normalization changed anything in this artifact')),
  },
  desc('digest facts about one artifact'),
);

export const SourceOverridesSchema = Type.Object({ repo: Type.Optional(Type.String()), ref: Type.Optional(Type.String()) }, desc("a submitter's override of the source"));

export const UpstreamArtifactSchema = Type.Object(
  {
    url: Type.String(desc('download URL')),
    integrity: Type.String(desc('Subresource-Integrity string from the registry')),
    filename: Type.String(),
  },
  desc('the published artifact as the registry describes it'),
);

export const ResolvedSourceSchema = Type.Object({
  origin: SourceOriginSchema,
  repo: Type.String(),
  commit: Type.String(),
  ref: Type.Optional(Type.String(desc('the ref that resolved to the commit'))),
  directory: Type.Optional(Type.String()),
  commitTime: Type.Integer(desc('commit time, seconds since the epoch (SOURCE_DATE_EPOCH)')),
});

export const QuorumPolicySchema = Type.Object({
  builders: Type.Integer(desc('builders scheduled per release (N)')),
  quorum: Type.Integer(desc('agreeing builders required (M)')),
  distinctOperators: Type.Boolean(desc('count distinct operators rather than distinct builder ids')),
});

export const PinnedSourceSchema = Type.Object(
  {
    origin: SourceOriginSchema,
    repo: Type.String(),
    directory: Type.Optional(Type.String()),
    commit: Type.Optional(Type.String(desc("set when the registry, the submitter or the coordinator's first resolution of a tag fixed it"))),
    found: Type.Optional(SourceFoundSchema),
    ref: Type.Optional(Type.String(desc('the ref that resolved to `commit`, when a tag was resolved'))),
    refs: Type.Array(Type.String(), desc('candidate refs, in order, when the registry declared no commit')),
    toolchain: StringMap("the toolchain the recipe asks for (e.g. the publisher's npm and node versions)"),
    steps: Type.Array(Type.String(), desc('how each field was found')),
    mapping: Type.Optional(Type.Object({ by: Type.String(), createdAt: Type.String() }, desc('for a mapping: who recorded it and when'))),
    firstSeenAt: Type.Optional(Type.String(desc('when a tag resolved for this package was first seen pointing at `commit`'))),
    recorded: Type.Optional(
      Type.Object({ ref: Type.String(), commit: Type.String() }, desc("the commit the registry recorded for the tag when the release was published (e.g. a Go module proxy's Origin)")),
    ),
    moved: Type.Optional(
      Type.Object(
        {
          ref: Type.String(),
          commit: Type.String(),
          seenAt: Type.String(),
          registryCommit: Type.Optional(Type.String(desc("set when the move was found against the registry's record (`recorded`): the commit the registry recorded"))),
        },
        desc('the tag now points elsewhere than when first seen (or than the registry recorded)'),
      ),
    ),
    publishedAt: Type.Optional(Type.String(desc('when the registry says the release was published (ISO 8601)'))),
  },
  desc('the source and recipe a release is pinned to at submission'),
);

const RiskPathListSchema = Type.Object({ count: Type.Integer(), paths: Type.Array(Type.String()) }, desc('how many paths differ in one way, and the first of them'));
export const RiskFlagSchema = Type.Object({ code: Type.String(), level: RiskLevelSchema, message: Type.String() });
export const RiskSummarySchema = Type.Object(
  {
    level: RiskLevelSchema,
    text: Type.String(desc('one sentence, starting with the level: `high risk: install script postinstall added in package.json`')),
    onlyPublished: RiskPathListSchema,
    onlyRebuilt: RiskPathListSchema,
    changed: RiskPathListSchema,
    modeChanged: RiskPathListSchema,
    flags: Type.Array(RiskFlagSchema, desc('the reasons for a high or medium level, most dangerous first')),
  },
  desc("what a mismatch's difference amounts to; carried by the verdict and its signed VSA"),
);

export const VerdictDecisionSchema = Type.Object({
  verdict: VerdictSchema,
  reason: Type.String(desc('one-sentence explanation for humans')),
  agreeing: Type.Array(Type.String(), desc('builders (ids) in the agreeing group that decided')),
  agreeingCount: Type.Integer(desc('distinct independent builders counted in that group')),
  stabilizers: Type.Array(Type.String(), desc('stabilizers needed for equality, for equivalent')),
  rebuiltSha256: Type.Optional(Type.String(desc("the agreeing builders' artifact digest, if a group reached the quorum"))),
});

export const VerdictRecordSchema = Type.Intersect([
  VerdictDecisionSchema,
  Type.Object({
    decidedAt: Type.String(),
    notes: Type.Optional(Type.Array(Type.String(), desc('facts the builders reported that qualify the verdict'))),
    risk: Type.Optional(RiskSummarySchema),
  }),
]);

export const ReleaseStateSchema = Type.Enum(['queued', 'building', 'decided'] as const);
export const RebuildStateSchema = Type.Enum(['assigned', 'running', 'succeeded', 'failed', 'lost'] as const, desc('lost: its worker vanished or faulted; it is replaced'));

export const ReleaseRecordSchema = Type.Object({
  id: Type.String(),
  purl: Type.String(),
  ecosystem: Type.String(),
  state: ReleaseStateSchema,
  overrides: SourceOverridesSchema,
  source: Type.Optional(PinnedSourceSchema),
  canonical: Type.Boolean(desc('built from what the registry declares (or an operator mapping): only such verdicts answer for the purl')),
  submittedBy: Type.Optional(Type.String(desc('the authenticated submitter, when the submission carried a token'))),
  policy: QuorumPolicySchema,
  upstream: Type.Optional(UpstreamArtifactSchema),
  published: Type.Optional(ArtifactDigestsSchema),
  problem: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }, desc('a problem found before any build, decided as failed'))),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  verdict: Type.Optional(VerdictRecordSchema),
});

export const RebuildViewSchema = Type.Object(
  {
    id: Type.String(),
    workerId: Type.String(),
    operator: Type.String(),
    state: RebuildStateSchema,
    attempt: Type.Integer(),
    reason: Type.Optional(Type.String(desc('machine-readable failure reason, e.g. build-error, timeout'))),
    message: Type.Optional(Type.String()),
    source: Type.Optional(ResolvedSourceSchema),
    toolchain: Type.Optional(StringMap()),
    toolchainUsed: Type.Optional(StringMap('the exact tool versions the build ran, as it recorded them')),
    imageDigest: Type.Optional(Type.String()),
    artifact: Type.Optional(Type.Intersect([ArtifactDigestsSchema, Type.Object({ filename: Type.String() })])),
    exitCode: Type.Optional(Type.Integer()),
    matchesPublished: Type.Optional(Type.Enum(['bitwise', 'stabilized', 'no'] as const, desc("does this builder's artifact equal the published one"))),
    durations: Type.Object({ fetchMs: Type.Optional(Type.Number()), buildMs: Type.Optional(Type.Number()), totalMs: Type.Optional(Type.Number()) }),
    logUrl: Type.Optional(Type.String(desc('relative URL of the full build log, when uploaded'))),
    bundleUrl: Type.Optional(Type.String(desc("relative URL of the builder's signed statement (Sigstore bundle), when it signed one"))),
    logBytes: Type.Optional(Type.Integer()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  desc("one builder's attempt: its state plus what its worker reported"),
);

export const ReleaseViewSchema = Type.Intersect(
  [
    ReleaseRecordSchema,
    Type.Object({
      verdictHistory: Type.Array(VerdictRecordSchema, desc('every verdict ever recorded, oldest first')),
      rebuilds: Type.Array(RebuildViewSchema),
      links: Type.Object({ self: Type.String(), package: Type.String() }),
      warnings: Type.Optional(Type.Array(Type.String(), desc('what an auditor must not miss about the source, e.g. a moved tag'))),
    }),
  ],
  desc('a release with its history, rebuilds and links'),
);

export const AnswerRiskSchema = Type.Object({ level: RiskLevelSchema, text: Type.String() });
export const AnswerAlarmSchema = Type.Object(
  { releaseId: Type.String(), artifactSha256: Type.String(), decidedAt: Type.String(), reason: Type.String(), risk: Type.Optional(AnswerRiskSchema) },
  desc('a canonical mismatch that no later canonical verdict about the same artifact explained'),
);
export const AnswerMovedTagSchema = Type.Object({
  ref: Type.String(),
  firstCommit: Type.String(desc('the commit the tag pointed at when first seen')),
  firstSeenAt: Type.Optional(Type.String()),
  commit: Type.String(desc('where it points now')),
  seenAt: Type.String(),
  releaseId: Type.String(),
});

export const PurlAnswerSchema = Type.Object(
  {
    purl: Type.String(),
    verdict: Type.Union([VerdictSchema, Type.Null()], desc("the verdict that answers for the purl's current artifact; null while none does")),
    releaseId: Type.Union([Type.String(), Type.Null()]),
    artifactSha256: Type.Union([Type.String(), Type.Null()], desc('the artifact the answer is about')),
    artifactSha512: Type.Union([Type.String(), Type.Null()], desc('sha512 of that artifact, when recorded')),
    artifactStabilizedSha256: Type.Optional(Type.Union([Type.String(), Type.Null()], desc("sha256 of that artifact's stabilized form, when recorded (for a Go module, the hex of its h1: dirhash)"))),
    alarms: Type.Array(AnswerAlarmSchema, desc('unexplained canonical mismatches of any artifact of this purl, newest first: an alarm is never hidden')),
    sourceChanged: Type.Boolean(),
    movedTags: Type.Array(AnswerMovedTagSchema),
    pending: Type.Boolean(desc('a newer canonical release is not decided yet')),
    overrideReleases: Type.Integer(desc("releases built from a submitter's override source: shown, never the answer")),
  },
  desc('what answers for one versioned purl'),
);

export const PackageViewSchema = Type.Object({
  purl: Type.String(),
  answers: Type.Array(PurlAnswerSchema, desc('per version: the verdict that answers for it, from canonical sources only')),
  releases: Type.Array(ReleaseViewSchema, desc('newest first (at most 50)')),
  firstSeenAt: Type.Optional(Type.String(desc('when the farm first had a release of this purl, whatever became of it (an age that does not rest on the registry)'))),
});

export const WorkerViewSchema = Type.Object({
  id: Type.String(),
  operator: Type.String(),
  alive: Type.Boolean(),
  lastSeenAt: Type.String(),
  images: StringMap('builder image digest by ecosystem'),
  running: Type.Array(Type.String()),
});

export const SourceMappingViewSchema = Type.Object({
  packagePurl: Type.String(desc('the package, without version')),
  repo: Type.String(),
  directory: Type.Optional(Type.String()),
  by: Type.String(desc('who recorded it')),
  note: Type.Optional(Type.String()),
  createdAt: Type.String(),
});

export const RejectionViewSchema = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  authenticated: Type.Boolean(desc('false for a request no enrolled key signed')),
  workerId: Type.Optional(Type.String()),
  rebuildId: Type.Optional(Type.String()),
  reason: Type.String(),
  detail: Type.String(),
  bundleSha256: Type.Optional(Type.String()),
});

export const EnrolWorkerAnswerSchema = Type.Union([
  Type.Object({ workerId: Type.String(), operator: Type.String(), keyId: Type.String() }),
  Type.Object({ workerId: Type.String(), operator: Type.String(), token: Type.String(), expiresAt: Type.String() }),
]);

// webhooks

export const VerdictEventSchema = Type.Object(
  {
    event: Type.Literal('verdict', desc('the release was decided')),
    deliveryId: Type.String(desc('the same in every retry of one delivery')),
    release: Type.Object({
      id: Type.String(),
      purl: Type.String(),
      canonical: Type.Boolean(),
      verdict: VerdictSchema,
      reason: Type.String(),
      decidedAt: Type.String(),
      risk: Type.Optional(AnswerRiskSchema),
      url: Type.String(desc("the release's page in the API")),
    }),
    vsa: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], desc('the signed VSA bundle of the verdict, to check offline like any attestation')),
  },
  desc(
    'what a callback receives: POST, JSON, signed in the x-quorum-signature header (keyid=<coordinator key id>,t=<unix seconds>,sig=<base64 ECDSA P-256 SHA-256 over "quorum-webhook-v1\n<t>\n<body>">)',
  ),
);

// requests

export const EnrolWorkerRequestSchema = Type.Object(
  {
    workerId: Type.String({ pattern: WORKER_ID_PATTERN.source }),
    operator: Type.String({ minLength: 1, maxLength: 100, description: 'the party that runs the worker' }),
    publicKey: Type.Optional(Type.String({ minLength: 50, maxLength: 5000, description: "SPKI PEM of the worker's signing key, to enrol it directly" })),
  },
  { additionalProperties: false, description: 'enrol a key directly, or ask for a one-time enrolment token' },
);

/** Who holds a submit token: a name shown with every submission made with it. */
export const SUBMITTER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export const SubmitterRequestSchema = Type.Object({ name: Type.String({ pattern: SUBMITTER_NAME_PATTERN.source }) }, { additionalProperties: false });

export const SourceMappingRequestSchema = Type.Object(
  {
    purl: Type.String({ minLength: 1, maxLength: 1000, description: 'the package (a version is ignored)' }),
    repo: Type.String({ minLength: 1, maxLength: 2000 }),
    directory: Type.Optional(Type.String({ maxLength: 500, description: "the package's directory inside the repository (monorepos)" })),
    by: Type.String({ minLength: 1, maxLength: 100, description: 'who records it' }),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const SubmitReleaseRequestSchema = Type.Object(
  {
    purl: Type.String({ minLength: 1, maxLength: 1000, description: 'the release, e.g. pkg:npm/left-pad@1.3.0' }),
    repo: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'source repository override (needs a submit token)' })),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'tag or commit override (needs a submit token)' })),
    callback: Type.Optional(
      Type.String({ minLength: 1, maxLength: 2000, description: 'an http(s) URL the coordinator POSTs the verdict to, signed, when the release is decided (needs a submit token)' }),
    ),
  },
  { additionalProperties: false },
);

/** The most releases one audit request may ask about: a lockfile of a very large monorepo has about 10,000. */
export const MAX_AUDIT_PACKAGES = 20_000;

export const AuditRequestSchema = Type.Object(
  {
    packages: Type.Array(
      Type.Object(
        {
          purl: Type.String({ minLength: 1, maxLength: 1000, description: 'a versioned purl' }),
          integrity: Type.Optional(Type.String({ maxLength: 4096, description: 'the Subresource-Integrity string the lockfile pins the artifact by' })),
          stabilizedSha256: Type.Optional(
            Type.String({ pattern: '^[0-9a-f]{64}$', description: "the digest of the artifact's stabilized form the lockfile pins it by, hex (a go.sum's h1: dirhash)" }),
          ),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_AUDIT_PACKAGES },
    ),
  },
  { additionalProperties: false },
);

export const AUDIT_STATUSES = ['reproducible', 'equivalent', 'mismatch', 'unreproducible', 'failed', 'unknown'] as const;
export const AuditStatusSchema = Type.Enum(AUDIT_STATUSES, desc('the verdict, or unknown when none answers'));
export const IntegrityCheckSchema = Type.Enum(['match', 'differs', 'unchecked'] as const, desc('how the artifact the lockfile pins compares with the one the verdict is about'));

export const AuditEntrySchema = Type.Object({
  purl: Type.String(desc('the purl as asked')),
  status: AuditStatusSchema,
  verdict: Type.Union([VerdictSchema, Type.Null()]),
  integrity: IntegrityCheckSchema,
  releaseId: Type.Union([Type.String(), Type.Null()]),
  risk: Type.Optional(AnswerRiskSchema),
  pending: Type.Boolean(),
  note: Type.Optional(Type.String(desc('why the status is not simply the verdict, or what qualifies it'))),
});

export const AuditAnswerSchema = Type.Object({
  entries: Type.Array(AuditEntrySchema, desc('one per distinct purl and integrity asked, in the order asked')),
  counts: Type.Record(AuditStatusSchema, Type.Integer()),
});
