import semver from 'semver';
import { PUBLISHED_MANIFEST_EOL, PUBLISHED_MODULE_TYPE } from './published-facts.js';

/**
 * What a publisher's `npm publish` (or release tool) did beyond `npm pack`, as far as the source
 * says: the script that builds the package, a version set at publish, and a publish tool that
 * rewrites the package before it is packed. Each step is named in the verdict's notes.
 */
export interface PublishSteps {
  /** the package script run before packing: `build`, or `prepare`/`prepublishOnly` as below */
  buildScript?: 'build' | 'prepare' | 'prepublishOnly';
  /** the release's version, when the source's package.json says another (a release tool set it at publish) */
  setVersion?: string;
  /** how the version is written: `npm version` unless a script releases with changelogen, which writes package.json its own way */
  setVersionWith?: 'changelogen';
  /** a publish tool, among the devDependencies, that writes the package into a directory of its own first */
  publishTool?: PublishTool;
  /** package.json is packed with CRLF line ends: the published one has them, the source's has not (written on Windows) */
  manifestEol?: 'crlf';
  notes: string[];
}

/** Publish tools that write the package into a directory of their own, which npm then publishes. */
export type PublishTool = 'clean-publish' | 'dual-publish';

interface Manifest {
  version?: unknown;
  type?: unknown;
  scripts?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
}

const has = (scripts: Record<string, unknown> | undefined, name: string) => typeof scripts?.[name] === 'string';

/** A version the build may write into package.json: plain semver, nothing a shell could read otherwise. */
const RELEASE_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** Versions release tools leave in package.json until they set the real one at publish. */
const PLACEHOLDER_VERSION = /^0\.0\.0(-[0-9A-Za-z.-]+)?$/;

/**
 * The publish steps of one package, from its package.json and the release's version.
 * - `build` when there is one (publishers run it before `npm publish`, which runs prepack/prepare).
 * - `prepare` when it has `preprepare`/`postprepare` hooks: `npm pack` (npm ≥ 7) runs prepare
 *   without them, `npm run prepare` (how such a package is prepared, e.g. by `npm version` → test)
 *   runs them.
 * - `prepublishOnly` when nothing else builds the package: `npm publish` runs it, `npm pack` never
 *   does, so it is the publisher's build. It often also tests or pushes, which a sandbox cannot: its
 *   failure is logged and the package packed as it stands.
 * - the release's version when package.json says another: release tools (semantic-release,
 *   changelogen, …) set it at publish with `npm version`, which the build runs the same way.
 */
export function publishSteps(
  manifest: Manifest,
  releaseVersion: string | undefined,
  opts: { prepublishOnly: boolean; facts?: Record<string, string>; manifestText?: string } = { prepublishOnly: true },
): PublishSteps {
  const scripts = manifest.scripts && typeof manifest.scripts === 'object' ? manifest.scripts : undefined;
  const steps: PublishSteps = { notes: [] };
  if (has(scripts, 'build')) steps.buildScript = 'build';
  else if (has(scripts, 'prepare') && (has(scripts, 'preprepare') || has(scripts, 'postprepare'))) {
    steps.buildScript = 'prepare';
    steps.notes.push('`npm run prepare` before packing: the package has preprepare/postprepare hooks, which `npm pack` does not run');
  } else if (opts.prepublishOnly && has(scripts, 'prepublishOnly') && !has(scripts, 'prepare') && !has(scripts, 'prepack')) {
    steps.buildScript = 'prepublishOnly';
    steps.notes.push('`npm run prepublishOnly` before packing, as `npm publish` runs it: nothing else builds the package (its failure is in the log, and the package is packed as it stands)');
  }
  const version = typeof manifest.version === 'string' ? manifest.version : undefined;
  // npm publish registers semver.clean(version) and packs package.json as it is: `v1.0.0` or
  // `1.0.0+build.7` in the source is the release 1.0.0, not another version
  const registered = version === undefined ? null : semver.clean(version);
  if (releaseVersion !== undefined && registered !== releaseVersion && RELEASE_VERSION.test(releaseVersion)) {
    steps.setVersion = releaseVersion;
    const said = version === undefined ? 'no version' : `version ${JSON.stringify(version.slice(0, 64))}${PLACEHOLDER_VERSION.test(version) ? ' (a placeholder)' : ''}`;
    // changelogen --release bumps package.json itself, as two-space JSON without a final newline
    if (Object.values(scripts ?? {}).some((v) => typeof v === 'string' && /\bchangelogen\b[^&|;]*--(release|bump)\b/.test(v))) {
      steps.setVersionWith = 'changelogen';
      steps.notes.push(`version set at publish: the source's package.json says ${said}; the release's was written before packing as \`changelogen --release\` (a script of the package) writes it`);
    } else {
      steps.notes.push(`version set at publish: the source's package.json says ${said}; \`npm version ${releaseVersion} --no-git-tag-version\` set the release's before packing, as release tools do`);
    }
  }
  const dev = manifest.devDependencies && typeof manifest.devDependencies === 'object' ? manifest.devDependencies : undefined;
  // an alias (`npm:other@…`) would run another package's bin under that name
  const declares = (name: PublishTool) => typeof dev?.[name] === 'string' && !(dev[name] as string).startsWith('npm:');
  // dual-publish runs clean-publish itself, then writes ES module copies of the CommonJS sources and
  // marks the package `"type": "module"`: a package that has it only to check with (size-limit) and
  // publishes with npm shows no such mark in what it published
  const markedByDualPublish = opts.facts?.[PUBLISHED_MODULE_TYPE] === 'module' && manifest.type !== 'module';
  if (declares('dual-publish') && markedByDualPublish) {
    steps.publishTool = 'dual-publish';
    steps.notes.push(
      'dual-publish is among the devDependencies: packed, with npm, from the directory `dual-publish --without-publish` writes (the sources cleaned as the package configures clean-publish, with ES module and CommonJS copies), as dual-publish publishes',
    );
  } else if (declares('clean-publish')) {
    steps.publishTool = 'clean-publish';
    steps.notes.push('clean-publish is among the devDependencies: packed, with npm, from the directory `clean-publish --without-publish` writes, as clean-publish publishes');
  }
  // npm packs package.json as it is on disk; a publisher on Windows wrote it with CRLF (npm version
  // keeps the line ends it finds), which a checkout here does not have: JSON reads the same either way
  if (opts.facts?.[PUBLISHED_MANIFEST_EOL] === 'crlf' && opts.manifestText !== undefined && !opts.manifestText.includes('\r\n')) {
    steps.manifestEol = 'crlf';
    steps.notes.push("package.json packed with CRLF line ends: the published one has them and the source's has not (published from Windows)");
  }
  return steps;
}

/** How long prepublishOnly may run, in seconds. */
export const PREPUBLISH_TIMEOUT_S = 300;

/** Where clean-publish writes the package it would publish, inside the build's scratch. */
const PUBLISH_DIR = '/tmp/publish';

/**
 * The publish steps as a build-script fragment, run in the package's directory after the install:
 * the release's version, the build script, then the publish tool, which may move the directory the
 * package is packed from. `$npm_cli` is the pinned npm's CLI; `$run` runs a package script with the
 * project's manager.
 */
export const PUBLISH_STEPS_SCRIPT = `if [ -n "$QUORUM_SET_VERSION" ] && [ "$QUORUM_SET_VERSION_WITH" = changelogen ]; then
  echo "[quorum] version $QUORUM_SET_VERSION written as changelogen writes it (the release's version, set at publish)"
  node -e 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8")); p.version = process.argv[1]; fs.writeFileSync("package.json", JSON.stringify(p, null, 2))' "$QUORUM_SET_VERSION"
elif [ -n "$QUORUM_SET_VERSION" ]; then
  echo "[quorum] npm version $QUORUM_SET_VERSION --no-git-tag-version (the release's version, set at publish)"
  # --workspaces=false: in a workspace, npm ≥ 8 would reinstall at the root (older npm ignores it)
  node "$npm_cli" version "$QUORUM_SET_VERSION" --no-git-tag-version --allow-same-version --ignore-scripts --workspaces=false >/dev/null
fi
case "$QUORUM_BUILD_SCRIPT" in
  build|prepare)
    echo "[quorum] $run_label $QUORUM_BUILD_SCRIPT"
    $run "$QUORUM_BUILD_SCRIPT"
    ;;
  prepublishOnly)
    # it often tests too: bounded, non-interactive, and never the reason a build fails
    echo "[quorum] $run_label prepublishOnly (npm publish runs it; nothing else builds the package; at most $QUORUM_PREPUBLISH_TIMEOUT_S s)"
    CI=true timeout -k 5 "$QUORUM_PREPUBLISH_TIMEOUT_S" $run prepublishOnly </dev/null || echo "[quorum] prepublishOnly exited with status $?: the package is packed as it stands"
    ;;
esac
if [ -n "$QUORUM_PUBLISH_TOOL" ]; then
  # the package's own bin, else a workspace root's (hoisted), up to the top of the source
  tool_bin=
  dir=$(pwd)
  while [ -z "$tool_bin" ]; do
    if [ -x "$dir/node_modules/.bin/$QUORUM_PUBLISH_TOOL" ]; then tool_bin="$dir/node_modules/.bin/$QUORUM_PUBLISH_TOOL"; fi
    if [ "$dir" = /tmp/work ] || [ "$dir" = / ]; then break; fi
    dir=$(dirname "$dir")
  done
  [ -n "$tool_bin" ] || { echo "[quorum] $QUORUM_PUBLISH_TOOL is not installed in the package's or a parent's node_modules"; exit 127; }
  if [ "$QUORUM_PUBLISH_TOOL" = dual-publish ]; then
    # it processes a clean-publish copy and leaves it, renamed, as ./dual-publish-tmp; not --check,
    # which clean-publish reads as a file argument and then ignores the package's clean-publish config
    echo "[quorum] dual-publish --without-publish"
    "$tool_bin" --without-publish
    cd dual-publish-tmp
  else
    echo "[quorum] clean-publish --without-publish --temp-dir ${PUBLISH_DIR}"
    "$tool_bin" --without-publish --temp-dir ${PUBLISH_DIR}
    cd ${PUBLISH_DIR}
  fi
fi
if [ "$QUORUM_MANIFEST_EOL" = crlf ]; then
  echo "[quorum] package.json written with CRLF line ends, as the published one (published from Windows)"
  node -e 'const fs = require("fs"); fs.writeFileSync("package.json", fs.readFileSync("package.json", "utf8").replace(/\\r?\\n/g, "\\r\\n"))'
fi
`;

/** The environment PUBLISH_STEPS_SCRIPT reads, from a decision's plan options (anything else is dropped). */
export function publishStepsEnv(o: Record<string, string> | undefined): Record<string, string> {
  const script = o?.buildScript === 'build' || o?.buildScript === 'prepare' || o?.buildScript === 'prepublishOnly' ? o.buildScript : '';
  const version = typeof o?.setVersion === 'string' && RELEASE_VERSION.test(o.setVersion) ? o.setVersion : '';
  return {
    QUORUM_BUILD_SCRIPT: script,
    QUORUM_SET_VERSION: version,
    QUORUM_SET_VERSION_WITH: version && o?.setVersionWith === 'changelogen' ? 'changelogen' : '',
    QUORUM_PUBLISH_TOOL: o?.publishTool === 'clean-publish' || o?.publishTool === 'dual-publish' ? o.publishTool : '',
    QUORUM_MANIFEST_EOL: o?.manifestEol === 'crlf' ? 'crlf' : '',
    // a prepublishOnly that hangs (a test waiting for the network) leaves the rest for the pack; the
    // same bound on every builder (half the default build time), so that all cut it at one point
    QUORUM_PREPUBLISH_TIMEOUT_S: String(PREPUBLISH_TIMEOUT_S),
  };
}

/**
 * Makes the build's copy of the source a git repository again (the source mount's own repository
 * is dropped: it is the worker's). Publishers build in a git checkout, and build steps expect one:
 * hook installers in `prepare` (husky), pack steps that ask git what it ignores, scripts that find
 * the top level with `git rev-parse`. One commit of the whole tree, dated SOURCE_DATE_EPOCH, with no
 * remote and no history, so nothing of the worker or its network reaches the build.
 */
export const SOURCE_REPOSITORY_SCRIPT = `rm -rf /tmp/work/.git
if ! command -v git >/dev/null 2>&1; then
  echo "[quorum] no git in the builder image: building without a repository"
else
  # --force: the checkout holds tracked files only, some of which .gitignore may name; no
  # compression: the objects stay on scratch for the build's duration only
  if ! (
    cd /tmp/work &&
      git -c init.defaultBranch=main init --quiet --template= &&
      git -c core.compression=0 add --all --force &&
      GIT_AUTHOR_DATE="@$SOURCE_DATE_EPOCH +0000" GIT_COMMITTER_DATE="@$SOURCE_DATE_EPOCH +0000" \\
        git -c core.compression=0 -c user.name=quorum -c user.email=builder@quorum.invalid -c commit.gpgsign=false commit --quiet --no-verify --allow-empty -m "the release's source"
  ); then
    rm -rf /tmp/work/.git
    echo "[quorum] the source could not be made a git repository: building without one"
  fi
fi
`;

/**
 * Sets the clock the build steps see to the time the publisher built at: builds stamp the year or
 * the day into banners (`Copyright (c) <year>`), and a rebuild run today would differ from the
 * published tarball in that stamp alone. libfaketime (in the builder image, its thread-safe build:
 * Node is multithreaded) starts the clock of each command the script runs at `QUORUM_BUILD_CLOCK`
 * (seconds since the epoch), and the processes that command starts share its running clock.
 * Monotonic clocks and file times stay real, so timeouts, timers and mtime comparisons behave.
 * Without libfaketime the build runs on the real clock and says so.
 */
export const BUILD_CLOCK_SCRIPT = `faketime_lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
if [ -z "$faketime_lib" ]; then
  echo "[quorum] no libfaketime in the builder image: the build sees the real clock"
elif [ -n "$QUORUM_BUILD_CLOCK" ]; then
  # seconds since the epoch (FAKETIME_FMT=%s): a date string would be read in each process's own TZ
  FAKETIME="@$QUORUM_BUILD_CLOCK"
  FAKETIME_FMT=%s
  FAKETIME_DONT_FAKE_MONOTONIC=1
  FAKETIME_DONT_RESET=1
  NO_FAKE_STAT=1
  LD_PRELOAD="$faketime_lib"
  export FAKETIME FAKETIME_FMT FAKETIME_DONT_FAKE_MONOTONIC FAKETIME_DONT_RESET NO_FAKE_STAT LD_PRELOAD
  echo "[quorum] build clock starts at $(date -u -d "@$QUORUM_BUILD_CLOCK" '+%Y-%m-%dT%H:%M:%SZ') ($QUORUM_BUILD_CLOCK_FROM)"
fi
`;

/** 9999-12-31T23:59:59Z */
const MAX_CLOCK = 253402300799;

/** The environment BUILD_CLOCK_SCRIPT reads: the publish time when the registry records one, else the commit time. */
export function buildClockEnv(publishedAt: string | undefined, commitTime: number): Record<string, string> {
  const published = publishedAt === undefined ? NaN : Math.floor(Date.parse(publishedAt) / 1000);
  // beyond 9999-12-31 libfaketime cannot start a clock, and every process it is loaded into would exit
  if (published > MAX_CLOCK || commitTime > MAX_CLOCK) return { QUORUM_BUILD_CLOCK: '', QUORUM_BUILD_CLOCK_FROM: '' };
  if (Number.isSafeInteger(published) && published > 0) return { QUORUM_BUILD_CLOCK: String(published), QUORUM_BUILD_CLOCK_FROM: 'the publish time the registry records' };
  if (Number.isSafeInteger(commitTime) && commitTime > 0) return { QUORUM_BUILD_CLOCK: String(commitTime), QUORUM_BUILD_CLOCK_FROM: 'the commit time: the registry records no publish time' };
  return { QUORUM_BUILD_CLOCK: '', QUORUM_BUILD_CLOCK_FROM: '' };
}
