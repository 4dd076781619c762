/** A build failure the package managers name themselves, as a reason a verdict can carry. */
export interface NamedFailure {
  reason: string;
  message: string;
}

/** What each manager prints, on one line, when a tarball does not match the lockfile or an offline install misses a package. */
const MARKERS: { has: string[]; reason: string; message: (line: string) => string }[] = [
  { has: ['YN0018', 'checksum'], reason: 'integrity-mismatch', message: (line) => `yarn: a package${packageIn(line)} does not match the checksum the lockfile pins` },
  { has: ['ERR_PNPM_TARBALL_INTEGRITY'], reason: 'integrity-mismatch', message: () => 'pnpm: a tarball does not match the integrity the lockfile pins' },
  { has: ['EINTEGRITY'], reason: 'integrity-mismatch', message: () => 'npm: a tarball does not match the integrity the lockfile pins' },
  {
    has: ['ENOTCACHED'],
    reason: 'unpinned-dependency',
    message: () => 'npm: the offline install needed a tarball that is not among the locked ones (the lockfile does not pin it, or pins it under another integrity)',
  },
  { has: ['ERR_PNPM_NO_OFFLINE_'], reason: 'unpinned-dependency', message: () => 'pnpm: the offline install needed a package the lockfile does not pin' },
  { has: ['YN0028', 'lockfile would have been modified'], reason: 'unpinned-dependency', message: () => 'yarn: the lockfile does not match package.json (the install would change it)' },
  { has: ['ERR_PNPM_OUTDATED_LOCKFILE'], reason: 'unpinned-dependency', message: () => 'pnpm: the lockfile does not match package.json' },
  { has: ['Your lockfile needs to be updated', '--frozen-lockfile'], reason: 'unpinned-dependency', message: () => 'yarn: the lockfile does not match package.json' },
  {
    has: ['`npm ci` can only install packages when your package.json and package-lock.json', 'in sync'],
    reason: 'unpinned-dependency',
    message: () => 'npm: the lockfile does not match package.json',
  },
];

/** ` (name@npm:1.2.3)` when yarn's line names the package, as yarn prints it after `│ `. */
function packageIn(line: string): string {
  const after = line
    .slice(line.indexOf('YN0018') + 6)
    .replace(/^[:\s│]+/, '')
    .slice(0, 300);
  const m = /^((?:@[\w.-]+\/)?[\w.-]+@[\w.:-]+)/.exec(after);
  return m ? ` (${m[1]})` : '';
}

/**
 * Names a failed build's cause when its package manager did (a checksum that does not match the
 * lockfile, an offline install that needed an unpinned package, a lockfile out of sync): facts
 * about the release's pins, not a difference in what it builds. Reads the log's last 64 KiB line by
 * line with plain substring tests: the build writes the log, so nothing here may backtrack.
 */
export function explainNpmFailure(log: string): NamedFailure | undefined {
  const lines = log.slice(-65536).split('\n');
  for (const marker of MARKERS) {
    const line = lines.find((l) => marker.has.every((h) => l.includes(h)));
    if (line !== undefined) return { reason: marker.reason, message: marker.message(line) };
  }
  return undefined;
}
