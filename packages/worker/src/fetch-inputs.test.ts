import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NPM_ABBREVIATED_METADATA, npmBuilder } from '@quorum/builder-npm';
import type { Builder, InputsDecision } from '@quorum/core';
import { egressPolicy } from '@quorum/net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchInputs, METADATA_LIMITS, readPlanFiles, resolveRegistryInputs } from './fetch-inputs.js';

describe('readPlanFiles', () => {
  let clone = '';
  beforeEach(async () => {
    clone = await mkdtemp(join(tmpdir(), 'quorum-plan-files-'));
    await mkdir(join(clone, 'packages/app'), { recursive: true });
    await writeFile(join(clone, 'pnpm-lock.yaml'), 'root lock');
    await writeFile(join(clone, 'package.json'), '{"root":true}');
    await writeFile(join(clone, 'packages/app/package.json'), '{"app":true}');
  });
  afterEach(() => rm(clone, { recursive: true, force: true }));

  it('reads root/ names from the repository root when the package is below it', async () => {
    const files = await readPlanFiles(join(clone, 'packages/app'), ['package.json', 'pnpm-lock.yaml', 'root/package.json', 'root/pnpm-lock.yaml', 'root/yarn.lock'], clone);
    expect(files).toEqual({ 'package.json': '{"app":true}', 'root/package.json': '{"root":true}', 'root/pnpm-lock.yaml': 'root lock' });
  });

  it('reads no root/ names for a package at the root, which has no other root', async () => {
    const files = await readPlanFiles(clone, ['package.json', 'root/package.json'], clone);
    expect(files).toEqual({ 'package.json': '{"root":true}' });
  });

  it('refuses a plan file over the lower bound its builder names for it, saying it is too large', async () => {
    const limits = npmBuilder.planFileLimits!;
    await writeFile(join(clone, 'packages/app/yarn.lock'), '');
    await truncate(join(clone, 'packages/app/yarn.lock'), 12 * 2 ** 20 + 1);
    await expect(readPlanFiles(join(clone, 'packages/app'), npmBuilder.planFiles, clone, limits)).rejects.toMatchObject({
      code: 'invalid-input',
      message: `yarn.lock in the source is too large: ${12 * 2 ** 20 + 1} bytes, over the 12 MiB this farm reads of it`,
    });
    await rm(join(clone, 'packages/app/yarn.lock'));
    await writeFile(join(clone, '.yarnrc.yml'), `yarnPath: .yarn/releases/yarn.cjs\n${'#'.repeat(64 * 1024)}`);
    await expect(readPlanFiles(join(clone, 'packages/app'), npmBuilder.planFiles, clone, limits)).rejects.toThrow(/^root\/\.yarnrc\.yml in the source is too large: \d+ bytes, over the 64 KiB/);
    // at its bound a file is read, and other names keep the general bound
    await writeFile(join(clone, '.yarnrc.yml'), 'yarnPath: .yarn/releases/yarn.cjs\n');
    await writeFile(join(clone, 'pnpm-lock.yaml'), 'x'.repeat(13 * 2 ** 20));
    const files = await readPlanFiles(join(clone, 'packages/app'), npmBuilder.planFiles, clone, limits);
    expect(files['root/.yarnrc.yml']).toBe('yarnPath: .yarn/releases/yarn.cjs\n');
    expect(files['root/pnpm-lock.yaml']).toHaveLength(13 * 2 ** 20);
  });

  it("refuses a root lockfile that is a link, as it refuses the package's own", async () => {
    await rm(join(clone, 'pnpm-lock.yaml'));
    await symlink('/etc/passwd', join(clone, 'pnpm-lock.yaml'));
    await expect(readPlanFiles(join(clone, 'packages/app'), ['root/pnpm-lock.yaml'], clone)).rejects.toThrow(/not a regular file/);
  });
});

/** A yarn 4 lockfile locking `pkg-<i>@1.0.0` for each i, and `pkg-0@2.0.0` too, with the decision the npm builder takes on it. */
function yarnBerryProject(names: number, registry: string): InputsDecision {
  const lock = ['__metadata:\n  version: 8\n  cacheKey: 10c0\n'];
  for (let i = 0; i < names; i++) {
    lock.push(`"pkg-${i}@npm:^1.0.0":\n  version: 1.0.0\n  resolution: "pkg-${i}@npm:1.0.0"\n  checksum: 10c0/${'ab'.repeat(64)}\n  languageName: node\n  linkType: hard\n`);
  }
  lock.push(`"pkg-0@npm:^2.0.0":\n  version: 2.0.0\n  resolution: "pkg-0@npm:2.0.0"\n  checksum: 10c0/${'ab'.repeat(64)}\n  languageName: node\n  linkType: hard\n`);
  const manifest = JSON.stringify({
    name: 'victim',
    version: '1.0.0',
    packageManager: 'yarn@4.0.0',
    scripts: { build: 'node build.js' },
    dependencies: Object.fromEntries(Array.from({ length: names }, (_, i) => [`pkg-${i}`, '^1.0.0'])),
  });
  const decision = npmBuilder.decideInputs({ 'package.json': manifest, 'yarn.lock': lock.join('\n') }, { node: '22.12.0', npm: '10.9.0' }, registry, {});
  expect(decision.problem).toBeUndefined();
  expect(decision.registryDependencies).toHaveLength(names + 1);
  return { ...decision, tools: [] };
}

/**
 * yarn 2+ lockfiles pin no tarball integrity: the fetch phase reads each locked package's registry
 * metadata for it. Real full documents are large (typescript, @types/node, next: tens of MiB each) and
 * a repository's lockfile chooses how many are read (up to 20,000 names): fetching every full document
 * and keeping all of them until the last arrived once held 391 MiB of heap for 120 names of 2 MiB.
 */
describe('fetchInputs: locked dependencies checked against the registry metadata', () => {
  const tarball = (name: string, version: string) => Buffer.from(`${name}@${version} tarball`);
  const sri = (data: Buffer) => `sha512-${createHash('sha512').update(data).digest('base64')}`;
  let upstream: Server;
  let registry = '';
  let inputsDir = '';
  /** what the next documents carry besides the versions (a full document's readme), in bytes */
  let filler = 0;
  /** serve documents in chunks, without a content-length */
  let chunked = false;
  let delayMs = 0;
  let accepts: string[] = [];
  let metadataRequests: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const policy = () => egressPolicy({ allowOrigins: [registry] });
  const never = new AbortController().signal;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const file = /^\/(pkg-\d+)\/-\/pkg-\d+-(\d+\.\d+\.\d+)\.tgz$/.exec(req.url ?? '');
      if (file) return void res.end(tarball(file[1]!, file[2]!));
      const m = /^\/(pkg-\d+)$/.exec(req.url ?? '');
      if (!m) return void res.writeHead(404).end('{}');
      const name = m[1]!;
      accepts.push(String(req.headers.accept));
      metadataRequests.push(name);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      const versions = Object.fromEntries(['1.0.0', '2.0.0'].map((v) => [v, { name, version: v, dist: { tarball: `${registry}/${name}/-/${name}-${v}.tgz`, integrity: sri(tarball(name, v)) } }]));
      // a full document whatever the accept header says, as a registry without abbreviated metadata serves it
      const body = JSON.stringify({ name, readme: `${name} `.padEnd(filler, 'r'), versions });
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' });
        if (!chunked) return void res.end(body);
        for (let at = 0; at < body.length; at += 65536) res.write(body.slice(at, at + 65536));
        res.end();
      }, delayMs);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    registry = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));
  beforeEach(async () => {
    inputsDir = await mkdtemp(join(tmpdir(), 'quorum-inputs-'));
    filler = 0;
    chunked = false;
    delayMs = 0;
    accepts = [];
    metadataRequests = [];
    inFlight = 0;
    maxInFlight = 0;
  });
  afterEach(() => rm(inputsDir, { recursive: true, force: true }));

  it("asks for the builder's abbreviated metadata, once per name, and fetches each tarball with the integrity it names", async () => {
    const lines: string[] = [];
    const got = await fetchInputs(npmBuilder, registry, yarnBerryProject(3, registry), inputsDir, (l) => lines.push(l), never, policy());
    expect(got.dependencyCount).toBe(4);
    expect(metadataRequests.sort()).toEqual(['pkg-0', 'pkg-1', 'pkg-2']);
    expect(new Set(accepts)).toEqual(new Set([NPM_ABBREVIATED_METADATA]));
    const files = (await readdir(inputsDir, { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
    expect(files).toHaveLength(4);
    const contents = await Promise.all(files.map((f) => readFile(join(f.parentPath, f.name), 'utf8')));
    expect(contents.sort()).toEqual(['pkg-0@1.0.0 tarball', 'pkg-0@2.0.0 tarball', 'pkg-1@1.0.0 tarball', 'pkg-2@1.0.0 tarball']);
    expect(lines.join('\n')).toMatch(/read the registry's metadata of 3 packages \(0 MiB\)/);
  });

  it("holds a few documents at a time while it reads them, never every locked package's", async () => {
    const NAMES = 120;
    filler = 2 * 2 ** 20;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const held = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const baseline = held();
    let peak = 0;
    let calls = 0;
    const builder: Builder = {
      ...npmBuilder,
      artifactIn(metadata, version) {
        // what is alive now, garbage collected: the documents the fetch phase still holds
        if (calls++ % 10 === 0) {
          gc();
          peak = Math.max(peak, held() - baseline);
        }
        return npmBuilder.artifactIn(metadata, version);
      },
    };
    await fetchInputs(builder, registry, yarnBerryProject(NAMES, registry), inputsDir, () => undefined, never, policy());
    expect(calls).toBe(NAMES + 1);
    const peakMiB = Math.round(peak / 2 ** 20);
    expect(peakMiB, `${peakMiB} MiB of registry metadata held at once for ${NAMES} locked names of 2 MiB each`).toBeLessThan(64);
  }, 120_000);

  it(`has at most ${METADATA_LIMITS.parallel} documents in flight at once`, async () => {
    delayMs = 20;
    await fetchInputs(npmBuilder, registry, yarnBerryProject(40, registry), inputsDir, () => undefined, never, policy());
    expect(metadataRequests).toHaveLength(40);
    expect(maxInFlight).toBeLessThanOrEqual(METADATA_LIMITS.parallel);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('counts the metadata toward a bound in all of its own, as it arrives', async () => {
    filler = 2 ** 20;
    const wanted = yarnBerryProject(10, registry).registryDependencies!;
    for (const how of [false, true]) {
      chunked = how;
      metadataRequests = [];
      await expect(resolveRegistryInputs(npmBuilder, registry, wanted, policy(), never, { totalBytes: 4 * 2 ** 20, documentBytes: 2 * 2 ** 20, parallel: 2 })).rejects.toMatchObject({
        code: 'unsafe-archive',
        message: "the registry's metadata of the 10 packages the lockfile names without integrity is over 4 MiB in all",
      });
      // the first failure stops the rest
      expect(metadataRequests.length).toBeLessThan(10);
    }
  });

  it('refuses one document over its bound, announced or not', async () => {
    filler = 2 * 2 ** 20;
    const wanted = yarnBerryProject(2, registry).registryDependencies!;
    for (const how of [false, true]) {
      chunked = how;
      await expect(resolveRegistryInputs(npmBuilder, registry, wanted, policy(), never, { ...METADATA_LIMITS, documentBytes: 2 ** 20 })).rejects.toMatchObject({
        code: 'unsafe-archive',
        message: expect.stringMatching(/^the registry's metadata of pkg-[01] is over 1 MiB$/),
      });
    }
  });

  it('says which locked package or version the registry does not have', async () => {
    const wanted = [{ purl: 'pkg:npm/pkg-0@1.0.0', path: 'deps/a.tgz' }];
    await expect(resolveRegistryInputs(npmBuilder, registry, [...wanted, { purl: 'pkg:npm/missing@1.0.0', path: 'deps/b.tgz' }], policy(), never)).rejects.toMatchObject({
      code: 'not-found',
      message: expect.stringMatching(/^locked dependency missing is not in the registry \(/),
    });
    await expect(resolveRegistryInputs(npmBuilder, registry, [...wanted, { purl: 'pkg:npm/pkg-1@9.9.9', path: 'deps/b.tgz' }], policy(), never)).rejects.toMatchObject({
      code: 'not-found',
      message: 'locked dependency pkg-1@9.9.9 is not in the registry',
    });
  });
});
