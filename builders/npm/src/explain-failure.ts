/** A build failure the package managers name themselves, as a reason a verdict can carry. */
export interface NamedFailure {
  reason: string;
  message: string;
}

/** What each manager prints when a tarball does not match what the lockfile pins, or an offline install misses a package. */
const PATTERNS: { test: RegExp; reason: string; message: (m: RegExpExecArray) => string }[] = [
  { test: /YN0018[:\s│]*((?:@[\w.-]+\/)?[\w.-]+@[\w.:-]+)?[^\n]*checksum/i, reason: 'integrity-mismatch', message: (m) => `yarn: a package${m[1] ? ` (${m[1]})` : ''} does not match the checksum the lockfile pins` },
  { test: /ERR_PNPM_TARBALL_INTEGRITY[^\n]*/, reason: 'integrity-mismatch', message: () => 'pnpm: a tarball does not match the integrity the lockfile pins' },
  { test: /\bEINTEGRITY\b[^\n]*/, reason: 'integrity-mismatch', message: () => 'npm: a tarball does not match the integrity the lockfile pins' },
  { test: /\bENOTCACHED\b[^\n]*/, reason: 'unpinned-dependency', message: () => 'npm: the offline install needed a package the lockfile does not pin' },
  { test: /ERR_PNPM_NO_OFFLINE_(TARBALL|META)[^\n]*/, reason: 'unpinned-dependency', message: () => 'pnpm: the offline install needed a package the lockfile does not pin' },
  { test: /YN0028[^\n]*lockfile would have been modified/i, reason: 'unpinned-dependency', message: () => 'yarn: the lockfile does not match package.json (the install would change it)' },
  { test: /ERR_PNPM_OUTDATED_LOCKFILE[^\n]*/, reason: 'unpinned-dependency', message: () => 'pnpm: the lockfile does not match package.json' },
  { test: /Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`/, reason: 'unpinned-dependency', message: () => 'yarn: the lockfile does not match package.json' },
  { test: /`npm ci` can only install packages when your package\.json and package-lock\.json[^\n]*are in sync/, reason: 'unpinned-dependency', message: () => 'npm: the lockfile does not match package.json' },
];

/**
 * Names a failed build's cause when its package manager did (a checksum that does not match the
 * lockfile, an offline install that needed an unpinned package, a lockfile out of sync): facts
 * about the release's pins, not a difference in what it builds. Reads only the log's last 64 KiB,
 * where the manager's error is.
 */
export function explainNpmFailure(log: string): NamedFailure | undefined {
  const tail = log.slice(-65536);
  for (const p of PATTERNS) {
    const m = p.test.exec(tail);
    if (m) return { reason: p.reason, message: p.message(m) };
  }
  return undefined;
}
