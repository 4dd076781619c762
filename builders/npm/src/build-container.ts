// The build container's layout and the toolchain prelude every script of this builder starts with.

/** Mount points inside the build container. */
export const SOURCE_MOUNT = '/src';
export const OUTPUT_MOUNT = '/out';
export const INPUTS_MOUNT = '/inputs';
/** File in the output mount where the build records the exact toolchain versions it ran. */
export const TOOLCHAIN_FILE = 'toolchain.json';

/**
 * Puts the pinned Node first on PATH and unpacks the pinned npm into scratch (else the image's),
 * leaving its CLI in `$npm_cli`: the same toolchain for npm, yarn and pnpm builds and for a
 * dependency resolution.
 */
export const TOOLCHAIN_PRELUDE = `if [ -n "$QUORUM_NODE_BIN" ]; then
  PATH="$QUORUM_NODE_BIN:$PATH"
  export PATH
fi
if [ -n "$QUORUM_NPM_TOOL" ]; then
  mkdir -p /tmp/tools/npm
  tar -xzf "${INPUTS_MOUNT}/$QUORUM_NPM_TOOL" -C /tmp/tools/npm --strip-components=1 --no-same-owner
  npm_cli=/tmp/tools/npm/bin/npm-cli.js
else
  npm_cli=$(readlink -f "$(command -v npm)")
fi
`;
