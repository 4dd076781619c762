import type { BuildPlan, PlanInput } from '@quorum/core';

/** Mount points inside the build container. */
export const SOURCE_MOUNT = '/src';
export const OUTPUT_MOUNT = '/out';

/**
 * The build script run inside the network-less container. The source mount is read-only,
 * so the tree is copied to scratch first; `npm pack` runs the package's own pack lifecycle.
 */
const BUILD_SCRIPT = `set -eu
umask 022
echo "[quorum] node $(node --version), npm $(npm --version), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
mkdir -p "$HOME" /tmp/work
cp -R ${SOURCE_MOUNT}/. /tmp/work/
rm -rf /tmp/work/.git
cd "/tmp/work/$QUORUM_PACKAGE_DIR"
if node -e 'const s=require("./package.json").scripts||{};process.exit(s.build?0:1)'; then
  echo "[quorum] npm run build"
  npm run build
fi
echo "[quorum] npm pack"
npm pack --pack-destination ${OUTPUT_MOUNT}
echo "[quorum] done"
`;

/** Pure build plan for one npm release. */
export function planNpmBuild(input: PlanInput): BuildPlan {
  return {
    image: input.image,
    argv: ['sh', '-c', BUILD_SCRIPT],
    env: {
      SOURCE_DATE_EPOCH: String(input.source.commitTime),
      TZ: 'UTC',
      LANG: 'C.UTF-8',
      HOME: '/tmp/home',
      QUORUM_PACKAGE_DIR: input.source.directory ?? '.',
      npm_config_cache: '/tmp/npm-cache',
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      npm_config_loglevel: 'notice',
    },
    sourceMount: SOURCE_MOUNT,
    outputMount: OUTPUT_MOUNT,
    artifactGlob: '*.tgz',
    workdir: '/tmp',
    user: '1000:1000',
    limits: { ...input.limits },
  };
}
