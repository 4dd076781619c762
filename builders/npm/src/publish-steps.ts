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
  /** a publish tool, among the devDependencies, that writes the package into a directory of its own first */
  publishTool?: 'clean-publish';
  notes: string[];
}

interface Manifest {
  version?: unknown;
  scripts?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
}

const has = (scripts: Record<string, unknown> | undefined, name: string) => typeof scripts?.[name] === 'string';

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
export function publishSteps(manifest: Manifest, releaseVersion: string | undefined): PublishSteps {
  const scripts = manifest.scripts && typeof manifest.scripts === 'object' ? manifest.scripts : undefined;
  const steps: PublishSteps = { notes: [] };
  if (has(scripts, 'build')) steps.buildScript = 'build';
  else if (has(scripts, 'prepare') && (has(scripts, 'preprepare') || has(scripts, 'postprepare'))) {
    steps.buildScript = 'prepare';
    steps.notes.push('`npm run prepare` before packing: the package has preprepare/postprepare hooks, which `npm pack` does not run');
  } else if (has(scripts, 'prepublishOnly') && !has(scripts, 'prepare') && !has(scripts, 'prepack')) {
    steps.buildScript = 'prepublishOnly';
    steps.notes.push('`npm run prepublishOnly` before packing, as `npm publish` runs it: nothing else builds the package (its failure is in the log, and the package is packed as it stands)');
  }
  const version = typeof manifest.version === 'string' ? manifest.version : undefined;
  if (releaseVersion !== undefined && version !== releaseVersion && /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(releaseVersion)) {
    steps.setVersion = releaseVersion;
    const said = version === undefined ? 'no version' : `version ${JSON.stringify(version.slice(0, 64))}${PLACEHOLDER_VERSION.test(version) ? ' (a placeholder)' : ''}`;
    steps.notes.push(`version set at publish: the source's package.json says ${said}; \`npm version ${releaseVersion} --no-git-tag-version\` set the release's before packing, as release tools do`);
  }
  const dev = manifest.devDependencies && typeof manifest.devDependencies === 'object' ? manifest.devDependencies : undefined;
  if (typeof dev?.['clean-publish'] === 'string') {
    steps.publishTool = 'clean-publish';
    steps.notes.push('published with clean-publish (a devDependency): packed from the directory `clean-publish --without-publish` writes');
  }
  return steps;
}

/** Where clean-publish writes the package it would publish, inside the build's scratch. */
const PUBLISH_DIR = '/tmp/publish';

/**
 * The publish steps as a build-script fragment, run in the package's directory after the install:
 * the release's version, the build script, then the publish tool, which may move the directory the
 * package is packed from. `$npm_cli` is the pinned npm's CLI; `$run` runs a package script with the
 * project's manager.
 */
export const PUBLISH_STEPS_SCRIPT = `if [ -n "$QUORUM_SET_VERSION" ]; then
  echo "[quorum] npm version $QUORUM_SET_VERSION --no-git-tag-version (the release's version, set at publish)"
  node "$npm_cli" version "$QUORUM_SET_VERSION" --no-git-tag-version --allow-same-version --ignore-scripts >/dev/null
fi
case "$QUORUM_BUILD_SCRIPT" in
  build|prepare)
    echo "[quorum] $run_label $QUORUM_BUILD_SCRIPT"
    $run "$QUORUM_BUILD_SCRIPT"
    ;;
  prepublishOnly)
    echo "[quorum] $run_label prepublishOnly (npm publish runs it; nothing else builds the package)"
    $run prepublishOnly || echo "[quorum] prepublishOnly exited with status $?: the package is packed as it stands"
    ;;
esac
if [ "$QUORUM_PUBLISH_TOOL" = clean-publish ]; then
  echo "[quorum] clean-publish --without-publish --temp-dir ${PUBLISH_DIR}"
  [ -x node_modules/.bin/clean-publish ] || { echo "[quorum] clean-publish is not installed in the package's node_modules"; exit 127; }
  node_modules/.bin/clean-publish --without-publish --temp-dir ${PUBLISH_DIR}
  cd ${PUBLISH_DIR}
fi
`;

/** The environment PUBLISH_STEPS_SCRIPT reads, from a decision's plan options (anything else is dropped). */
export function publishStepsEnv(o: Record<string, string> | undefined): Record<string, string> {
  const script = o?.buildScript === 'build' || o?.buildScript === 'prepare' || o?.buildScript === 'prepublishOnly' ? o.buildScript : '';
  const version = typeof o?.setVersion === 'string' && /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(o.setVersion) ? o.setVersion : '';
  return {
    QUORUM_BUILD_SCRIPT: script,
    QUORUM_SET_VERSION: version,
    QUORUM_PUBLISH_TOOL: o?.publishTool === 'clean-publish' ? 'clean-publish' : '',
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
if command -v git >/dev/null 2>&1; then
  if ! (
    cd /tmp/work &&
      git -c init.defaultBranch=main init --quiet --template= &&
      git add --all &&
      GIT_AUTHOR_DATE="@$SOURCE_DATE_EPOCH +0000" GIT_COMMITTER_DATE="@$SOURCE_DATE_EPOCH +0000" \\
        git -c user.name=quorum -c user.email=builder@quorum.invalid -c commit.gpgsign=false commit --quiet --no-verify --allow-empty -m "the release's source"
  ); then
    rm -rf /tmp/work/.git
    echo "[quorum] the source could not be made a git repository: building without one"
  fi
fi
`;
