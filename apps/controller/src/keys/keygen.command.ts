import { generateSigningKey, writeSigningKeyFiles } from '@warren/protocol';
import type { CommandIo } from '../auth/token.commands';

/**
 * `warren-controller keygen [--out <file>]`: writes a new Ed25519 command-signing key pair, the
 * private key to `out` (mode 0600) and the public key beside it, and prints its fingerprint on
 * stdout. Returns the exit status: 0 written, 1 refused (a key file is already there, or cannot be
 * written), saying why on stderr.
 */
export function runKeygen(out: string, io: CommandIo): number {
  try {
    const key = generateSigningKey();
    const { privatePath, publicPath } = writeSigningKeyFiles(out, key);
    io.stdout.write(`${key.keyId}\n`);
    io.stderr.write(
      `wrote the private key to ${privatePath} (mode 0600) and the public key to ${publicPath}; give agents the public key with --trust\n`,
    );
    return 0;
  } catch (err) {
    io.stderr.write(`warren-controller: ${(err as Error).message}\n`);
    return 1;
  }
}
