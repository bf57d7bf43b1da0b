// What every component process does the same way: end gracefully on SIGTERM/SIGINT (once), and
// log a stray exception loudly instead of dying with the work it holds.
import type { Logger } from 'pino';

export function stopOnSignals(logger: Logger, message: string, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, message);
      stop().then(
        () => {
          logger.info({}, 'stopped');
          exitAfterFlush(logger, 0);
        },
        (error: unknown) => {
          logger.error({ err: String(error) }, 'error while stopping');
          exitAfterFlush(logger, 1);
        },
      );
    });
  }
  process.on('uncaughtException', (error) => logger.error({ err: error.stack ?? String(error) }, 'uncaught exception'));
  process.on('unhandledRejection', (error) => logger.error({ err: String(error) }, 'unhandled rejection'));
}

/**
 * pino writes asynchronously: a line still being written when process.exit() runs can land after
 * the lines flushed at exit, or not at all. Exit once everything logged is on disk, in order.
 */
function exitAfterFlush(logger: Logger, code: number): void {
  logger.flush(() => process.exit(code));
}
