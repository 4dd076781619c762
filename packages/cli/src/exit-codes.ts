import type { Verdict } from '@quorum/core';

/** Exit codes of the `quorum` command; one table, documented in the README and in `--help`. */
export const EXIT = Object.freeze({
  /** reproducible or equivalent */
  ok: 0,
  /** usage, connection or HTTP error, timeout */
  error: 1,
  /** builders agree with each other, the published artifact differs */
  mismatch: 2,
  /** builders disagree with each other */
  unreproducible: 3,
  /** too few builds succeeded */
  failed: 4,
  /** `quorum status`: the newest release has no verdict yet */
  pending: 5,
  /** `quorum verify`: the consumer's own recount of the builder bundles does not reach the quorum */
  notVerified: 6,
  /** `quorum submit`: a passing verdict about a submitter's override source, which does not answer for the purl */
  override: 7,
  /** `quorum audit --strict`: something the lockfile installs is not verified (no passing verdict, or its integrity unchecked) */
  unverified: 8,
});

/** Exit code of `quorum verify`: the consumer's own recount decides, never the coordinator's claim. */
export function exitCodeForRecount(passed: boolean): number {
  return passed ? EXIT.ok : EXIT.notVerified;
}

/** Exit code for a release's verdict; `undefined` (not decided yet) maps to EXIT.pending. */
export function exitCodeForVerdict(verdict: Verdict | undefined): number {
  switch (verdict) {
    case 'reproducible':
    case 'equivalent':
      return EXIT.ok;
    case 'mismatch':
      return EXIT.mismatch;
    case 'unreproducible':
      return EXIT.unreproducible;
    case 'failed':
      return EXIT.failed;
    case undefined:
      return EXIT.pending;
    default:
      // a verdict this CLI does not know yet: not a success
      return EXIT.error;
  }
}

/** The exit-code table as help text, shared by `--help` of the program, submit and status. */
export const EXIT_CODES_HELP = `Exit codes:
  0  reproducible or equivalent
  1  usage error, coordinator unreachable, HTTP error, or timeout
  2  mismatch: builders agree with each other, the published artifact differs
  3  unreproducible: builders disagree with each other
  4  failed: too few builds succeeded to decide
  5  (status only) no release from the package's own source has a verdict yet
  6  (verify only) not verified: too few trusted, independent builders agree with the artifact
  7  (submit only) reproducible or equivalent, but from a submitter's override source: it does not answer for the purl
  8  (audit --strict only) something the lockfile installs is not verified`;

/** The exit codes of `quorum verify`, for its `--help`. */
export const VERIFY_EXIT_CODES_HELP = `Exit codes:
  0  verified: your own recount found enough trusted, independent builders agreeing with the artifact
  1  usage error, unreadable trust file, coordinator or registry unreachable, HTTP error
  6  not verified: the recount does not reach the quorum (whatever the coordinator's VSA claims)`;
