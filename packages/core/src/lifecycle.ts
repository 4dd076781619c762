/** The logging a process needs around shutdown. */
interface ShutdownLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Closes a running service on the first SIGTERM or SIGINT and exits: 0 when it closed cleanly,
 * 1 when closing failed or took longer than `forceAfterMs` (a stuck close never keeps the process
 * alive). Later signals are ignored while closing.
 */
export function closeOnSignals(close: () => Promise<void>, log: ShutdownLog, forceAfterMs = 60_000): void {
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      log.info({ signal }, 'shutting down');
      setTimeout(() => {
        log.error({ forceAfterMs }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      }, forceAfterMs).unref();
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

/** Loads an app's config or exits with status 2 and a one-line message (bad settings are not a crash). */
export function configOrExit<T>(program: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    process.stderr.write(`${program}: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
