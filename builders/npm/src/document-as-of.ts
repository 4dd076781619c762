import semver from 'semver';

interface Packument {
  versions?: Record<string, Record<string, unknown>>;
  time?: Record<string, string>;
  'dist-tags'?: Record<string, string>;
}

/**
 * A packument as it stood at `before`: versions published later (or with no recorded time) are
 * dropped, deprecation notices added since are removed, and `latest` is the highest stable version
 * then (other tags stay only where they still name a kept version). npm's own `--before` filters
 * versions by time but reads today's tags and deprecations, which can change what it picks.
 */
export function npmDocumentAsOf(body: Uint8Array, before: string): Uint8Array {
  const cutoff = Date.parse(before);
  if (!Number.isFinite(cutoff)) return body;
  let doc: Packument;
  try {
    doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as Packument;
  } catch {
    return body;
  }
  if (!doc || typeof doc !== 'object' || !isMap(doc.versions) || !isMap(doc.time)) return body;
  const versions = doc.versions;
  const time = doc.time;
  for (const version of Object.keys(versions)) {
    const at = Date.parse(String(time[version]));
    if (!Number.isFinite(at) || at > cutoff) {
      delete versions[version];
      delete time[version];
      continue;
    }
    const manifest = versions[version];
    if (isMap(manifest)) delete manifest.deprecated;
  }
  const tags: Record<string, string> = {};
  for (const [tag, version] of Object.entries(isMap(doc['dist-tags']) ? doc['dist-tags'] : {})) {
    if (tag !== 'latest' && typeof version === 'string' && Object.hasOwn(versions, version)) tags[tag] = version;
  }
  const latest = semver.maxSatisfying(Object.keys(versions), '*');
  if (latest) tags.latest = latest;
  doc['dist-tags'] = tags;
  return Buffer.from(JSON.stringify(doc));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
