// The one structured logger of a process (pino): errors serialised under `err` and `error`,
// secret-looking fields masked wherever they appear.
import { pino, stdSerializers, type Logger } from 'pino';

export function createLogger(name: string): Logger {
  return pino({
    name,
    // the Temporal SDK logs failures under `error`: without a serializer pino would drop them
    serializers: { err: stdSerializers.err, error: stdSerializers.err },
    // belt and braces: nothing should log these, and if something does, it is masked
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'VAULT_TOKEN', '*.MasterUserPassword'],
      censor: '[redacted]',
    },
  });
}
