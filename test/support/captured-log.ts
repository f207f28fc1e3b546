// A pino logger whose lines a unit test can read back (as parsed objects) instead of printing.
import { pino, type Logger } from 'pino';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function capturedLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

/** pino's level numbers, for filtering captured lines */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;
