import { Inject, Injectable } from '@nestjs/common';
import { loadOrCreateSigningKey, signBody, type SigningKey } from '@warren/protocol';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { ControllerConfig } from '../config/controller.config';

/**
 * The controller's Ed25519 signing key: every command envelope is signed with it, and agents run
 * only what a key they trust (`--trust <controller.pub>`) signed. Read from `--key` (default
 * `<state-dir>/controller.key`), generated there on first start with its public half next to it.
 */
@Injectable()
export class ControllerKey {
  readonly key: SigningKey;
  /** where the public key is, to hand to agents */
  readonly publicPath: string;

  constructor(config: ControllerConfig, @Inject(ROOT_LOGGER) root: Logger) {
    const log = root.child({ component: 'keys' });
    const { key, created, publicPath } = loadOrCreateSigningKey(config.keyPath);
    this.key = key;
    this.publicPath = publicPath;
    log.info(
      { keyId: key.keyId, publicKey: publicPath, created },
      created ? 'generated the command signing key' : 'loaded the command signing key',
    );
  }

  /** Signature headers for a command body. */
  sign(body: Buffer): Record<string, string> {
    return signBody(body, this.key);
  }
}
