import { readFileSync } from 'node:fs';
import { UsageError } from '../cli.errors';
import type { CliIo } from '../cli.io';

/** The CA file to trust: `--ca`, else `WARREN_CA`; null when neither is given (Node's CAs). */
export function resolveCaFile(flag: string | undefined, env: CliIo['env']): string | null {
  return flag ?? (env.WARREN_CA || null);
}

/**
 * The PEM text of the CA file at `path`, read at start so that a bad path is a usage error (exit 2)
 * rather than a failed connection. Throws {@link UsageError} when it cannot be read or holds no
 * PEM certificate.
 */
export function readCaFile(path: string, read: (p: string) => Buffer = readFileSync): Buffer {
  let pem: Buffer;
  try {
    pem = read(path);
  } catch (err) {
    throw new UsageError(
      `cannot read the CA file ${path} (--ca): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(`the CA file ${path} (--ca) holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return pem;
}
