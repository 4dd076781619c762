/**
 * The `docker run` flags of every baseline container: the hardening the farm's sandbox applies too
 * (no network, read-only root, no capabilities, no new privileges, an unprivileged user, `/tmp` a
 * tmpfs), so that a baseline differs from the farm by the farm's own work only.
 */
export function plainRunFlags(opts: { tmpSize: string | number; user: string }): string[] {
  return ['--rm', '--network', 'none', '--read-only', '--tmpfs', `/tmp:rw,exec,size=${opts.tmpSize}`, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--user', opts.user];
}
