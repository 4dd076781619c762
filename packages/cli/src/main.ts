import { Command, CommanderError, Option } from 'commander';
import { isQuorumError } from '@quorum/core';
import { DEFAULT_SERVER, isCliError } from './api-client.js';
import { cliVersion, DEFAULT_WAIT_TIMEOUT_S, nonNegativeHours, nonNegativeInt, POLL_INTERVAL_MS, port, positiveInt, positiveSeconds, serverOption, type CliIo } from './cli-io.js';
import type { AuditCliOptions } from './commands/audit.js';
import type { GateCliOptions } from './commands/gate.js';
import type { WatchCliOptions } from './commands/watch.js';
import type { AdminCliOptions, EnrolCliOptions } from './commands/admin.js';
import type { StatusOptions } from './commands/status.js';
import type { SubmitOptions } from './commands/submit.js';
import type { UpCliOptions } from './commands/up.js';
import type { VerifyCliOptions } from './commands/verify.js';
import { EXIT, EXIT_CODES_HELP, VERIFY_EXIT_CODES_HELP } from './exit-codes.js';
import { safeText } from './terminal-text.js';
import { ADMIN_TOKEN_FILE, UP_DEFAULTS } from './up-defaults.js';

export { DEFAULT_WAIT_TIMEOUT_S, POLL_INTERVAL_MS, UNAVAILABLE_GRACE_MS, type CliIo } from './cli-io.js';

/** Builds the `quorum` program; each action stores its exit code through `setExit`. */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('quorum');
  program
    .description('Reproducible-build verification farm: submit releases, follow independent rebuilds, read M-of-N verdicts.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(`quorum: ${s.replace(/^error: /, '')}`),
      getOutHelpWidth: () => io.stdout.columns ?? 80,
      getErrHelpWidth: () => io.stderr.columns ?? 80,
    })
    .addHelpText(
      'after',
      `
Environment:
  QUORUM_SERVER       coordinator base URL when --server is not given (default ${DEFAULT_SERVER})
  QUORUM_ADMIN_TOKEN  admin token for \`quorum admin\` (a farm from \`quorum up\` keeps it in .quorum/admin-token)

${EXIT_CODES_HELP}

Examples:
  $ quorum up
  $ quorum submit pkg:npm/left-pad@1.3.0 --wait
  $ quorum status pkg:npm/left-pad@1.3.0
  $ quorum logs <rebuild-id>
  $ quorum workers
  $ quorum keys export --out quorum-trust.json
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json`,
    );

  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setExit(await fn(...args));

  program
    .command('submit')
    .description('submit a published release for independent rebuilds; with --wait, follow it to a verdict')
    .argument('<purl>', 'package URL of one release, e.g. pkg:npm/left-pad@1.3.0 or pkg:npm/%40scope/name@1.0.0')
    .option('--repo <url>', 'source repository URL (default: inferred from registry metadata)')
    .option('--ref <tag|sha>', 'tag or commit SHA of the source (default: inferred from registry metadata and tags)')
    .option('--callback <url>', 'an http(s) URL the coordinator POSTs the verdict to, signed with its key, once decided (retried with backoff; needs a token)')
    .option('--token <token>', 'submit token from an operator (default: $QUORUM_SUBMIT_TOKEN); needed for --repo/--ref, whose verdicts are override verdicts, and --callback')
    .option('--wait', 'poll until the verdict is decided, show live progress per builder on stderr, then print the verdict')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds (exit 1)', positiveSeconds, DEFAULT_WAIT_TIMEOUT_S)
    .option('--json', 'print { purl, verdict, reason, stabilizers, rebuilds, release } as JSON (the final state with --wait; verdict is null until decided)')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Without --wait, prints the new release id and exits 0. With --wait, progress goes to stderr
(a live table on a terminal, one line per builder state change otherwise; with --json only on
a terminal), then the verdict, reason, agreeing builders, stabilizers, per-builder artifact
digests and log URLs go to stdout, and the exit code says the verdict.

Anyone may submit a plain purl: the source is what the registry declares (rate-limited per
address). --repo/--ref need a submit token; their verdicts are labelled override verdicts and
never answer for the purl (status headline, attestations, verify).

${EXIT_CODES_HELP.replace(/\n.*\((status|verify|audit --strict) only\).*$/gm, '')}

Examples:
  $ quorum submit pkg:npm/left-pad@1.3.0
  $ quorum submit pkg:npm/left-pad@1.3.0 --wait
  $ QUORUM_SUBMIT_TOKEN=qs_... quorum submit pkg:npm/%40scope/pkg@2.0.1 --repo https://github.com/scope/pkg --ref v2.0.1 --wait --timeout 600
  $ quorum submit pkg:npm/left-pad@1.3.0 --wait --json > release.json`,
    )
    .action(action(async (purl: string, opts: SubmitOptions) => (await import('./commands/submit.js')).submit(purl, opts, io)));

  program
    .command('status')
    .description('show the verdict and per-builder results of a package or release')
    .argument('<purl>', 'package URL with version (one release) or without (every version)')
    .option('--all', 'for a versioned purl, show every release of that version, not just the newest')
    .option('--json', "print { purl, verdict, release, releases } as JSON; verdict is the newest release's or null")
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Releases are listed newest first. The exit code is that of the newest release's verdict;
5 means it is not decided yet. A purl the coordinator has no release of exits 1.

${EXIT_CODES_HELP.replace(/\n.*\((verify|submit|audit --strict) only\).*$/gm, '')}

Examples:
  $ quorum status pkg:npm/left-pad@1.3.0
  $ quorum status pkg:npm/left-pad --json
  $ quorum status pkg:npm/left-pad@1.3.0 --all`,
    )
    .action(action(async (purl: string, opts: StatusOptions) => (await import('./commands/status.js')).status(purl, opts, io)));

  program
    .command('audit')
    .description("check every package a lockfile installs against the farm's verdicts, the integrity it pins each by included")
    .argument('[file]', 'lockfile, or a directory to look in (default: the current directory): npm-shrinkwrap.json, package-lock.json, yarn.lock or pnpm-lock.yaml')
    .option('--strict', 'also fail (exit 8) on anything not verified: no passing verdict, an integrity that cannot be compared, a package from git or a URL')
    .option('--all', 'list every release, not only those that need a look')
    .option('--json', 'print the whole audit as JSON: counts, one entry per release, the entries from elsewhere')
    .option('--sarif', 'print a SARIF 2.1.0 log for code-scanning UIs instead of the table')
    .option('--submit-missing', 'queue a rebuild of every release the farm never saw (needs --token or $QUORUM_SUBMIT_TOKEN)')
    .option('--token <token>', 'submit token from an operator (default: $QUORUM_SUBMIT_TOKEN): with --submit-missing, and to audit more often than anonymous clients may')
    .option('--registry <url>', 'a registry (mirror) to trust like the public one for packages the lockfile pins by sha1 only; repeat for several', (v: string, acc: string[] = []) => [...acc, v])
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Each release is matched by name, version and integrity: a passing verdict counts only for the very
artifact the farm verified, so a lockfile that pins another artifact under the same name and version
is a mismatch. Statuses: reproducible, equivalent, mismatch, unreproducible, failed, unknown (no verdict).

Exit codes:
  0  no mismatch (with --strict: everything verified)
  1  usage error, unreadable lockfile, coordinator unreachable, HTTP error
  2  a mismatch: a published artifact differs from its rebuilds, or the lockfile pins another artifact
  8  (--strict) something installed is not verified

Examples:
  $ quorum audit
  $ quorum audit path/to/pnpm-lock.yaml --strict
  $ quorum audit --sarif > quorum.sarif
  $ quorum audit --submit-missing --token "$QUORUM_SUBMIT_TOKEN"`,
    )
    .action(action(async (file: string | undefined, opts: AuditCliOptions) => (await import('./commands/audit.js')).audit(file, opts, io)));

  program
    .command('gate')
    .description("serve a package registry to npm, yarn and pnpm that hands over a tarball only when the farm's verdict on those exact bytes allows it")
    .option('--port <port>', 'port to listen on', port, 4873)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--upstream <url>', 'the registry the gate fronts (default: $QUORUM_NPM_REGISTRY, else the public registry)')
    .option('--policy <policy>', 'block-mismatch (refuse mismatches), require-verified (only reproducible/equivalent) or warn (serve, log, count)', 'block-mismatch')
    .option('--policy-for <pattern=policy>', 'a policy for some packages: name, @scope/name, @scope/* or *; the first that matches wins; repeat for several', (v: string, acc: string[] = []) => [
      ...acc,
      v,
    ])
    .option('--hide-blocked', 'leave the versions the policy refuses out of the metadata, so that a range resolves to the newest allowed version')
    .option('--cooldown <hours>', 'a version published less than this long ago is served only when verified, whatever the policy (0: no cooldown)', nonNegativeHours, 0)
    .option('--wait <seconds>', 'require-verified (and a cooldown): how long to wait for the verdict on a tarball the farm has not decided', positiveSeconds, 120)
    .option('--recheck <seconds>', 'how long an answer of the farm is reused before it is asked again', positiveSeconds, 60)
    .option('--cache-dir <dir>', 'where tarballs are kept, by sha512 (default: $QUORUM_STATE_DIR/gate-cache, else ~/.quorum/gate-cache)')
    .option('--cache-mb <n>', 'most megabytes of tarballs kept; the least recently used go first', positiveInt, 2048)
    .option('--public-url <url>', "the URL clients reach the gate at, written into the metadata's tarball URLs (default: the Host each client sent)")
    .option('--token <token>', 'submit token from an operator (default: $QUORUM_SUBMIT_TOKEN): the gate then audits without the anonymous rate limit')
    .option('--ecosystem <type>', 'the registry protocol to speak (default: the only one the farm has)')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Every tarball is fetched from the upstream, checked against the integrity the upstream's own metadata
gives, kept on disk by its sha512, and handed over only when the farm's verdict on exactly those bytes
allows it (POST /v1/audit with their sha512): a verdict about another artifact under the same version
never lets one through. Every tarball the farm has never seen is submitted for verification.

  block-mismatch    refuse (HTTP 403) a tarball whose independent rebuilds disagree with it, or that
                    is not the artifact the farm verified; serve everything else
  require-verified  serve only reproducible or equivalent tarballs; wait up to --wait for one the farm
                    has not decided, then answer 503 "verification pending, retry"
  warn              serve everything; log and count what the other policies would refuse

With --cooldown N, a version the upstream says was published less than N hours ago (or does not say
when) is handled as require-verified, whatever its policy: a hijacked account's fresh release is not
installed before independent builders reproduced it.

A refusal names the purl, the verdict and its risk, the release's dashboard page and the digest of the
signed VSA it relied on; npm prints it. When the farm cannot be reached, block-mismatch and
require-verified answer 503 (nothing unchecked is served); warn serves. Logs are JSON lines on stderr;
counts at /-/quorum/metrics (Prometheus).

Examples:
  $ quorum gate --server http://farm.internal:8080
  $ npm config set registry http://127.0.0.1:4873/
  $ quorum gate --policy require-verified --policy-for '@types/*=block-mismatch' --hide-blocked`,
    )
    .action(action(async (opts: GateCliOptions) => (await import('./commands/gate.js')).gate(opts, io)));

  program
    .command('watch')
    .description('follow packages in their registry and submit every new version to the farm as soon as it appears')
    .argument('[purls...]', 'packages to follow, without version, e.g. pkg:npm/left-pad pkg:npm/%40types/node')
    .option('--lockfile <file>', 'also follow every package a lockfile installs (a file, or a directory to look in)')
    .option('--interval <seconds>', 'time from the start of one poll to the start of the next', positiveSeconds, 300)
    .option('--once', 'poll once and exit: 0 when every package was read and every new version handed over, else 1')
    .option('--backfill <n>', "at a package's first poll, also submit its n newest versions (by publish time)", nonNegativeInt, 0)
    .option('--state <file>', 'where the versions already seen are kept (default: $QUORUM_STATE_DIR/watch-state.json, else ~/.quorum/watch-state.json)')
    .option('--upstream <url>', 'the registry to poll (default: $QUORUM_NPM_REGISTRY, else the public registry)')
    .option('--changes-feed <url>', "the registry's changes feed (npm: a CouchDB _changes endpoint): each poll then reads only the packages it names, and all of them hourly")
    .option('--token <token>', 'submit token from an operator (default: $QUORUM_SUBMIT_TOKEN): submissions then are not rate limited')
    .option('--ecosystem <type>', "the registry protocol to speak (default: the lockfile's, else the only one the farm has)")
    .option('--json', 'print one JSON object per event (baseline, new, not-submitted, unreadable, poll)')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
The first poll of a package records the versions it has then; every later version is submitted, unless
the farm already has a release of it. A version is remembered once the farm has it, so a registry or
farm that cannot be reached loses nothing: the next poll tries again. The state file keeps this across
runs, so versions published while the watch was stopped are submitted when it starts again. With
--changes-feed, a poll reads the feed from where the last one stopped and then only the packages it
names; every package is still read once an hour, and whenever the feed cannot be read.

Examples:
  $ quorum watch pkg:npm/left-pad pkg:npm/%40babel/core --token "$QUORUM_SUBMIT_TOKEN"
  $ quorum watch --lockfile package-lock.json --interval 600
  $ quorum watch pkg:npm/express --once --backfill 3 --json`,
    )
    .action(action(async (purls: string[], opts: WatchCliOptions) => (await import('./commands/watch.js')).watch(purls, opts, io)));

  program
    .command('logs')
    .description("write a rebuild's full build log to stdout, control characters escaped (--raw: the bytes unchanged)")
    .argument('<rebuild-id>', 'rebuild id, as listed by `quorum status` and `quorum submit --wait`')
    .option('--raw', 'write the log bytes unchanged, for files and tools; do not send them to a terminal')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
A build log is written by the build, so it may hold terminal control sequences. By default they are
shown, not obeyed: control characters (except newline and tab), DEL, C1 controls and bidi formatting
characters are written as escapes such as \\u001b, \\u202e or \\r, and invalid UTF-8 as U+FFFD.
--raw writes the bytes exactly as the coordinator sent them.

Examples:
  $ quorum logs <rebuild-id>
  $ quorum logs <rebuild-id> | grep -i error
  $ quorum logs <rebuild-id> --raw > build.log`,
    )
    .action(action(async (id: string, opts: { raw?: boolean; server?: string }) => (await import('./commands/logs.js')).logs(id, opts, io)));

  program
    .command('diff')
    .description('show what differs, file by file, behind the newest verdict: published vs rebuilt (mismatch, equivalent) or builder vs builder (unreproducible)')
    .argument('<purl|release-id>', 'a versioned purl (its newest decided release) or a release id')
    .option('--json', 'print the diff as JSON (added, removed, changed with unified text diffs, metadata-only, archive-level)')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum diff pkg:npm/left-pad@1.3.0\n  $ quorum diff pkg:npm/left-pad@1.3.0 --json | jq .changed')
    .action(action(async (target: string, opts: { json?: boolean; server?: string }) => (await import('./commands/diff.js')).diff(target, opts, io)));

  program
    .command('workers')
    .description('list the workers known to the coordinator')
    .option('--json', 'print the WorkerView list as JSON')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum workers\n  $ quorum workers --json --server http://farm.example:8080')
    .action(action(async (opts: { json?: boolean; server?: string }) => (await import('./commands/workers.js')).workers(opts, io)));

  const keys = program.command('keys').description('trust material: the coordinator key, the enrolled builder keys and the quorum policy');
  keys
    .command('export')
    .description("write the coordinator's key list (GET /v1/keys) as a trust file for `quorum verify --trust`")
    .option('--out <file>', 'write the trust file here (default: stdout)')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
The trust file holds the coordinator's public key (it signs verdicts), every enrolled builder's
worker id, operator and public key, and the quorum policy. Export it once, check the key ids
with the operators out of band, and keep it: \`quorum verify --trust FILE\` then accepts
signatures from these keys only, so a compromised coordinator cannot add builders of its own.

Examples:
  $ quorum keys export --out quorum-trust.json
  $ quorum keys export --server https://farm.example | jq '.builders[].keyId'`,
    )
    .action(action(async (opts: { out?: string; server?: string }) => (await import('./commands/keys.js')).keysExport(opts, io)));

  program
    .command('verify')
    .description('check an attestation yourself: recount the independent builders with pinned keys, check the signed verdict')
    .argument('<purl>', 'package URL of one release, e.g. pkg:npm/left-pad@1.3.0')
    .option('--artifact <file>', 'the artifact you hold, e.g. a .tgz (default: download the published one from the registry)')
    .option('--trust <file>', "trust file from `quorum keys export` (recommended; default: the coordinator's own key list, which defeats the purpose)")
    .option('--threshold <m>', "independent agreeing builders required (default: the trust file's policy.quorum, else 2)", positiveInt)
    .option('--registry <url>', "registry to read the package's metadata and published artifact from (default: $QUORUM_<ECO>_REGISTRY, else the public registry)")
    .option('--allow-source <repo>', "also count statements about this repository although it is not the package's own source (repeatable; loudly reported)", (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option('--json', 'print { purl, verified, counted, quorum, artifact, vsa, builders, ... } as JSON')
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
The coordinator is not trusted. verify fetches the builder bundles and the signed verdict (VSA)
from GET /v1/attestations/<purl>, verifies every builder bundle offline against the builder keys
of the trust file only, and counts the distinct builders (distinct operators, unless the trust
file's policy says otherwise) whose signed rebuild matches the artifact: bitwise, or after the
stabilizers. A bundle signed by a key missing from the trust file, about another package, of a
failed build or of a builder already counted does not count; the table says why.

Source binding: a statement counts only when it names the package's own source, as the registry
declares it (repository, directory, and gitHead or a release tag), read by verify itself from the
registry; for a package whose registry entry names no source, an operator's mapping counts when the
trust file pins it. Statements about a submitter's override source never count, unless you accept
that repository explicitly with --allow-source (reported loudly).

The artifact is --artifact, or the published one: downloaded from the registry and checked
against the registry's integrity hash. The VSA is checked with the coordinator key of the trust
file and its claim (PASSED/FAILED) compared with your recount; the exit code is your recount.

Use --trust: without it the keys come from the coordinator itself (a warning says so).

${VERIFY_EXIT_CODES_HELP}

Examples:
  $ quorum keys export --out quorum-trust.json        # once; check the key ids out of band
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json --artifact left-pad-1.3.0.tgz
  $ quorum verify pkg:npm/left-pad@1.3.0 --trust quorum-trust.json --threshold 3 --json`,
    )
    .action(action(async (purl: string, opts: VerifyCliOptions) => (await import('./commands/verify.js')).verify(purl, opts, io)));

  const admin = program.command('admin').description('operator commands behind the admin token (QUORUM_ADMIN_TOKEN): enrol workers, read rejections, submit tokens, source mappings');
  const adminTokenOption = () => new Option('--admin-token <token>', "the coordinator's admin token (default: $QUORUM_ADMIN_TOKEN; the variable keeps it out of the process list)");
  admin
    .command('enrol')
    .description('enrol a worker: get a one-time enrolment token for it, or enrol its public key directly')
    .argument('<worker-id>', "the worker's id (QUORUM_WORKER_ID), e.g. worker-4")
    .requiredOption('--operator <name>', 'the party that runs the worker (quorums count distinct operators)')
    .option('--public-key <file>', "the worker's public key PEM (its keys/signing-key.pub.pem): enrol it directly, also to replace a key")
    .addOption(adminTokenOption())
    .option('--json', "print the coordinator's answer: { workerId, operator, token, expiresAt } or { workerId, operator, keyId }")
    .addOption(serverOption())
    .addHelpText(
      'after',
      `
Without --public-key, prints a one-time token and the command that starts the worker with
QUORUM_ENROL_TOKEN=<token>; on its first start the worker enrols its own key with it (the private
key never leaves the worker). With --public-key, the key is enrolled at once and its id printed.

Examples:
  $ export QUORUM_ADMIN_TOKEN=$(cat .quorum/admin-token)
  $ quorum admin enrol worker-4 --operator acme
  $ quorum admin enrol worker-5 --operator example-org --public-key signing-key.pub.pem`,
    )
    .action(action(async (workerId: string, opts: EnrolCliOptions) => (await import('./commands/admin.js')).adminEnrol(workerId, opts, io)));
  admin
    .command('rejections')
    .description('list refused worker reports (bad signatures, replays, subject or source mismatches), newest first')
    .option('--unauthenticated', 'list the refused requests nobody authenticated instead (unknown keys, forged signatures, bad enrolment tokens): kept apart, attributable to no worker')
    .addOption(adminTokenOption())
    .option('--json', 'print the list as JSON: [{ seq, at, workerId?, rebuildId?, reason, detail, bundleSha256? }]')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ QUORUM_ADMIN_TOKEN=$(cat .quorum/admin-token) quorum admin rejections\n  $ quorum admin rejections --json')
    .action(action(async (opts: { adminToken?: string; json?: boolean; server?: string; unauthenticated?: boolean }) => (await import('./commands/admin.js')).adminRejections(opts, io)));

  const submitters = admin.command('submitters').description("submit tokens: who may override a release's source (override verdicts never answer for a purl)");
  submitters
    .command('add')
    .description('issue a submit token for a maintainer (printed once)')
    .argument('<name>', 'who holds it, shown with every release it submits, e.g. left-pad-maintainers')
    .addOption(adminTokenOption())
    .option('--json', 'print { name, token }')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum admin submitters add left-pad-maintainers\n  $ QUORUM_SUBMIT_TOKEN=qs_... quorum submit pkg:npm/left-pad@1.3.0 --ref v1.3.0 --wait')
    .action(action(async (name: string, opts: AdminCliOptions) => (await import('./commands/admin.js')).submittersAdd(name, opts, io)));
  submitters
    .command('list')
    .description('list submitters and whether their tokens are revoked')
    .addOption(adminTokenOption())
    .option('--json', 'print [{ name, createdAt, revokedAt? }]')
    .addOption(serverOption())
    .action(action(async (opts: AdminCliOptions) => (await import('./commands/admin.js')).submittersList(opts, io)));
  submitters
    .command('revoke')
    .description("revoke a submitter's token (its releases stay, labelled with its name)")
    .argument('<name>', 'the submitter')
    .addOption(adminTokenOption())
    .option('--json', 'print { name, revoked }')
    .addOption(serverOption())
    .action(action(async (name: string, opts: AdminCliOptions) => (await import('./commands/admin.js')).submittersRevoke(name, opts, io)));

  const sources = admin.command('sources').description('source mappings: where the source of a package lives when its registry entry declares none');
  sources
    .command('map')
    .description("record a package's source repository (used only for versions whose registry entry names none; counts as canonical)")
    .argument('<purl>', 'the package, e.g. pkg:npm/left-pad (a version is ignored)')
    .argument('<repo>', 'its source repository, e.g. https://github.com/left-pad/left-pad')
    .option('--directory <dir>', "the package's directory inside the repository (monorepos)")
    .option('--by <name>', 'who records it, shown wherever it is used (default: $USER)')
    .option('--note <text>', 'why, for auditors (e.g. where the repository was confirmed)')
    .addOption(adminTokenOption())
    .option('--json', 'print the recorded mapping')
    .addOption(serverOption())
    .addHelpText('after', '\nExamples:\n  $ quorum admin sources map pkg:npm/left-pad https://github.com/left-pad/left-pad --by alice --note "confirmed with the maintainer"')
    .action(
      action(async (purl: string, repo: string, opts: AdminCliOptions & { directory?: string; by?: string; note?: string }) => (await import('./commands/admin.js')).sourcesMap(purl, repo, opts, io)),
    );
  sources
    .command('list')
    .description('list the recorded source mappings (public: GET /v1/source-mappings)')
    .option('--json', 'print [{ packagePurl, repo, directory?, by, note?, createdAt }]')
    .addOption(serverOption())
    .action(action(async (opts: AdminCliOptions) => (await import('./commands/admin.js')).sourcesList(opts, io)));
  sources
    .command('unmap')
    .description("remove a package's source mapping (releases already pinned keep theirs)")
    .argument('<purl>', 'the package')
    .addOption(adminTokenOption())
    .option('--json', 'print { purl, deleted }')
    .addOption(serverOption())
    .action(action(async (purl: string, opts: AdminCliOptions) => (await import('./commands/admin.js')).sourcesUnmap(purl, opts, io)));

  program
    .command('up')
    .description('run a local farm in the foreground: Docker + builder image, Redis, a coordinator and N workers')
    .option('--workers <n>', 'worker processes to start (worker-1..worker-N, operators operator-1..N)', positiveInt, UP_DEFAULTS.workers)
    .option('--port <port>', 'coordinator HTTP port on 127.0.0.1', port, UP_DEFAULTS.port)
    .option('--data <dir>', 'data directory (coordinator store, worker dirs, Redis files)', UP_DEFAULTS.data)
    .option('--redis-port <port>', 'Redis port (started by infra/redis.sh if absent)', port, UP_DEFAULTS.redisPort)
    .option('--builders <n>', "builders per release, N (QUORUM_BUILDERS; default: the coordinator's)", positiveInt)
    .option('--quorum <m>', "agreeing builders required, M (QUORUM_QUORUM; default: the coordinator's)", positiveInt)
    .option('--no-provision', 'skip infra/provision.sh (Docker engine and builder image already set up)')
    .addHelpText(
      'after',
      `
Steps: bash infra/provision.sh (installs/starts Docker, builds the builder image), then
bash infra/redis.sh <redis-port> <data>/redis, then the coordinator; once GET /healthz answers,
each worker is enrolled (POST /v1/admin/workers, a one-time token in its QUORUM_ENROL_TOKEN) and
started. Log lines are prefixed with the process names. Then prints
"farm ready: http://127.0.0.1:<port> (<n> workers)".

The admin token is QUORUM_ADMIN_TOKEN when set, else the one kept in <data>/admin-token (mode
0600, created on the first run, reused later): QUORUM_ADMIN_TOKEN=$(cat .quorum/admin-token)
makes \`quorum admin\` work against the farm.

Ctrl-C (SIGINT) or SIGTERM stops the coordinator and workers (SIGTERM, SIGKILL after 10 s;
a second Ctrl-C kills at once) and exits 0. Redis and Docker are left running. If a
coordinator or worker dies on its own, the rest is stopped and the exit code is 1.

Every QUORUM_* variable of this process (e.g. QUORUM_NPM_REGISTRY, QUORUM_ALLOW_LOCAL_REPOS)
is passed on to the coordinator and the workers.

Examples:
  $ quorum up
  $ quorum up --workers 5 --builders 5 --quorum 3
  $ quorum up --no-provision --port 9090 --redis-port 6380 --data /srv/quorum`,
    )
    .action(action(async (opts: UpCliOptions) => (await import('./commands/up.js')).up(opts, io)));

  return program;
}

/**
 * Runs the `quorum` command line in-process: `argv` without node and script, output to
 * `io`. Resolves to the exit code; never throws for expected errors.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    clock: io.clock ?? Date.now,
    pollIntervalMs: io.pollIntervalMs ?? POLL_INTERVAL_MS,
    ...(io.stop ? { stop: io.stop } : {}),
    ...(io.kill ? { kill: io.kill } : {}),
  };
  let code: number = EXIT.ok;
  const program = buildProgram(full, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    // messages quote coordinator answers (error bodies, ids, URLs): escaped here, where every one passes
    if (isCliError(e)) {
      full.stderr.write(`quorum: ${safeText(e.message)}\n`);
      return e.exitCode;
    }
    // an AttestError by its name: loading the signing code only to recognise its errors would slow every command
    if (isQuorumError(e) || (e instanceof Error && e.name === 'AttestError')) {
      full.stderr.write(`quorum: ${safeText(e.message)}\n`);
      return EXIT.error;
    }
    const err = e as Error;
    full.stderr.write(`quorum: unexpected error: ${safeText(err?.message ?? String(e))}\n`);
    if (full.env.QUORUM_DEBUG && err?.stack) full.stderr.write(`${safeText(err.stack, { multiline: true })}\n`);
    return EXIT.error;
  }
}
