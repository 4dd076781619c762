import semver from 'semver';
import { NODE_RELEASES, type NodeRelease } from './node-releases.js';

/** The Node a build runs with, pinned by this builder, or why there is none. */
export type NodeChoice = { ok: true; version: string; integrity: string; npm?: string; inferred: boolean; why: string } | { ok: false; message: string };

/** A value from a packument or package.json, on one line and cut short for a message. */
function short(value: string): string {
  const line = value.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 60)}…` : line;
}

const quote = (value: string) => JSON.stringify(short(value));

/**
 * Chooses the pinned Node release to rebuild a package with: the publisher's Node when the registry
 * recorded it (`_nodeVersion`), refused when the farm does not pin that release; otherwise, by rule,
 * the highest LTS release out on the publish day (UTC) that satisfies the package's `engines.node`,
 * then any release out that day, then any release the farm pins. Pure: `releases` is the pin table.
 */
export function chooseNode(
  recorded: string | undefined,
  enginesNode: string | undefined,
  publishedAt: string | undefined,
  releases: Readonly<Record<string, NodeRelease>> = NODE_RELEASES,
): NodeChoice {
  const pick = (version: string, inferred: boolean, why: string): NodeChoice => {
    const { integrity, npm } = releases[version]!;
    return { ok: true, version, integrity, ...(npm === undefined ? {} : { npm }), inferred, why };
  };
  if (recorded) {
    if (/^\d+\.\d+\.\d+$/.test(recorded) && Object.hasOwn(releases, recorded)) return pick(recorded, false, `the publisher's Node ${recorded}, as the registry recorded it`);
    return { ok: false, message: `the registry records that the package was published with Node ${quote(recorded)}, which is not among the Node releases this farm pins` };
  }

  const declared = enginesNode?.trim() || undefined;
  const range = declared === undefined ? undefined : semver.validRange(declared);
  const ignored = declared !== undefined && range === null ? `; engines.node ${quote(declared)} is not a valid semver range, so it was not applied` : '';
  const satisfying = range ? ` satisfying engines.node ${short(declared!)}` : '';
  const candidates = Object.entries(releases)
    .filter(([version]) => semver.valid(version) !== null && (!range || semver.satisfies(version, range)))
    .sort(([a], [b]) => semver.rcompare(a, b));
  const time = publishedAt === undefined ? NaN : Date.parse(publishedAt);
  const day = Number.isNaN(time) ? undefined : new Date(time).toISOString().slice(0, 10);
  const out = ([, r]: [string, NodeRelease]) => day === undefined || (r.date !== undefined && r.date <= day);
  const unrecorded = `the registry did not record the publisher's Node${
    day !== undefined ? '' : publishedAt === undefined ? ' nor the publish time' : ` and its publish time ${quote(publishedAt)} is not a date`
  }`;
  const asOf = day === undefined ? '' : ` as of ${day}`;

  const lts = candidates.find((c) => c[1].lts !== undefined && out(c));
  if (lts) return pick(lts[0], true, `${unrecorded}; chose ${lts[0]}, the newest LTS release${asOf}${satisfying}${ignored}`);
  const any = candidates.find(out);
  if (any) return pick(any[0], true, `${unrecorded}, and no LTS release${asOf}${satisfying.replace('satisfying', 'satisfies')}; chose ${any[0]}, the newest release${asOf}${satisfying}${ignored}`);
  const newest = candidates[0];
  if (newest)
    return pick(newest[0], true, `${unrecorded}, and no release${asOf}${satisfying.replace('satisfying', 'satisfies')}; chose ${newest[0]}, the newest release the farm pins${satisfying}${ignored}`);
  return { ok: false, message: range ? `no Node release this farm pins satisfies engines.node ${quote(declared!)}` : 'this farm pins no Node release' };
}
