// The build container's layout and the toolchain prelude every script of this builder starts with.

/** Mount points inside the build container. */
export const SOURCE_MOUNT = '/src';
export const OUTPUT_MOUNT = '/out';
export const INPUTS_MOUNT = '/inputs';
/** File in the output mount where the build records the exact toolchain versions it ran. */
export const TOOLCHAIN_FILE = 'toolchain.json';

/**
 * BSD sed (a publisher on macOS) reads `sed -i '' …` as "in place, no backup"; GNU sed reads the
 * empty word as its script and the real script as a file. A `sed` first on PATH drops an empty
 * word right after `-i` and says so in the log; any other call reaches GNU sed unchanged (an empty
 * script after -i edits nothing, so nothing that worked before changes).
 */
const SED_COMPAT = `mkdir -p /tmp/tools/compat
cat > /tmp/tools/compat/sed <<'QUORUM_SED'
#!/bin/sh
prev=
for a do
  shift
  if [ "$prev" = -i ] && [ -z "$a" ]; then
    echo "[quorum] sed -i '': BSD sed's in-place form, run as GNU sed -i" >&2
    prev=
    continue
  fi
  set -- "$@" "$a"
  prev=$a
done
exec /bin/sed "$@"
QUORUM_SED
chmod 755 /tmp/tools/compat/sed
PATH="/tmp/tools/compat:$PATH"
export PATH
`;

/**
 * Puts the pinned Node first on PATH and unpacks the pinned npm into scratch (else the image's),
 * leaving its CLI in `$npm_cli`: the same toolchain for npm, yarn and pnpm builds and for a
 * dependency resolution. Starts with the sed that also takes BSD's in-place form.
 */
export const TOOLCHAIN_PRELUDE = `${SED_COMPAT}if [ -n "$QUORUM_NODE_BIN" ]; then
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
