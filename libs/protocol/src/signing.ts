import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomically } from './private-file';

/**
 * Envelope signatures (Ed25519, `node:crypto`).
 *
 * A signed message is its JSON body, unchanged, plus two AMQP headers: {@link SIGNATURE_HEADER}
 * (base64 Ed25519 signature over the exact body bytes) and {@link KEY_ID_HEADER} (the signer's key
 * fingerprint, to pick the key among several trusted ones). Nothing in the body is parsed before the
 * signature over all of it has been checked, so a tampered byte anywhere makes the whole message
 * unverifiable. The body names its own kind, target host, issue time and expiry, so a signature can
 * be neither moved to another kind, host or time, nor reused past its expiry.
 */
export const SIGNATURE_HEADER = 'warren-sig';
/** AMQP header naming the signer's key: `SHA256:<base64 of sha256(raw public key)>`. */
export const KEY_ID_HEADER = 'warren-key';

/** A key pair in memory, with its fingerprint. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** `SHA256:…` of the public key */
  keyId: string;
  /** the public key as SPKI PEM, to publish or write to a file */
  publicPem: string;
}

/** A trusted public key and its fingerprint. */
export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
}

/** Fingerprint of a public key: `SHA256:` + unpadded base64 of the SHA-256 of its 32 raw bytes. */
export function keyFingerprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { x?: string };
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  return `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

/** What a fingerprint looks like: `SHA256:` and 43 base64 characters (no padding). */
export const KEY_FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * A key id header as it may be shown (in a reason, a log, an audit record): the header itself when
 * it has the form of a fingerprint ({@link KEY_FINGERPRINT_PATTERN}), else `(not a fingerprint)`.
 * Whoever can publish chooses the header, so its text is never echoed otherwise: it could hold
 * terminal escapes or a line that reads as another audit record.
 */
export function shownKeyId(header: unknown): string {
  return typeof header === 'string' && KEY_FINGERPRINT_PATTERN.test(header) ? header : '(not a fingerprint)';
}

/** A fresh Ed25519 key pair. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return toSigningKey(privateKey, publicKey);
}

function toSigningKey(privateKey: KeyObject, publicKey: KeyObject): SigningKey {
  return {
    privateKey,
    publicKey,
    keyId: keyFingerprint(publicKey),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Parses a PEM or base64 SPKI public key; throws with a clear message on anything else. */
export function parsePublicKey(text: string): TrustedKey {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(
      text.includes('-----BEGIN') ? text : { key: Buffer.from(text.trim(), 'base64'), format: 'der', type: 'spki' },
    );
  } catch (err) {
    throw new Error(`not a public key: ${(err as Error).message}`, { cause: err });
  }
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`expected an Ed25519 public key, got ${publicKey.asymmetricKeyType}`);
  return { keyId: keyFingerprint(publicKey), publicKey };
}

/** Reads a public key file (PEM). Throws naming the file. */
export function readPublicKeyFile(path: string): TrustedKey {
  try {
    return parsePublicKey(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a private key file (PKCS#8 PEM, Ed25519). Throws naming the file. */
export function readSigningKeyFile(path: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not a private key: ${(err as Error).message}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${path}: expected an Ed25519 private key, got ${privateKey.asymmetricKeyType}`);
  return toSigningKey(privateKey, createPublicKey(privateKey));
}

/**
 * Writes a key pair: the private key to `path` (mode 0600) and the public key to `path` with `.key`
 * replaced by `.pub` (or `.pub` appended), mode 0644, each through {@link writeFileAtomically}.
 * Refuses to overwrite an existing private key, and (`UnsafeDirectoryError`) a directory that others
 * can write or that belongs to another user.
 */
export function writeSigningKeyFiles(path: string, key: SigningKey): { privatePath: string; publicPath: string } {
  if (existsSync(path)) throw new Error(`${path} already exists; not overwriting a key`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const publicPath = publicKeyPathFor(path);
  writeFileAtomically(path, key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  writeFileAtomically(publicPath, key.publicPem, 0o644);
  return { privatePath: path, publicPath };
}

/** `controller.key` → `controller.pub`; anything else gets `.pub` appended. */
export function publicKeyPathFor(privatePath: string): string {
  return privatePath.endsWith('.key') ? `${privatePath.slice(0, -4)}.pub` : `${privatePath}.pub`;
}

/**
 * Loads the key pair at `path`, generating and writing one first if there is none (first start).
 * Also (re)writes the public half next to it when that file is missing.
 */
export function loadOrCreateSigningKey(path: string): { key: SigningKey; created: boolean; publicPath: string } {
  if (!existsSync(path)) {
    const key = generateSigningKey();
    const { publicPath } = writeSigningKeyFiles(path, key);
    return { key, created: true, publicPath };
  }
  const key = readSigningKeyFile(path);
  const publicPath = publicKeyPathFor(path);
  if (!existsSync(publicPath)) writeFileAtomically(publicPath, key.publicPem, 0o644);
  return { key, created: false, publicPath };
}

/** Signs `body` (the exact bytes that will be published); returns the AMQP headers to send with it. */
export function signBody(body: Buffer, key: SigningKey): Record<string, string> {
  return { [SIGNATURE_HEADER]: sign(null, body, key.privateKey).toString('base64'), [KEY_ID_HEADER]: key.keyId };
}

/** Result of checking a signed body. */
export type Verification =
  | { ok: true; keyId: string }
  | {
      ok: false;
      /** `unsigned`, `untrusted_key` or `bad_signature` */
      code: 'unsigned' | 'untrusted_key' | 'bad_signature';
      reason: string;
    };

/**
 * Checks the signature headers of a message against `trusted` keys. Never throws. Does not look at
 * the body beyond hashing it: call this before parsing anything.
 */
export function verifyBody(
  body: Buffer,
  headers: Record<string, unknown> | undefined,
  trusted: ReadonlyMap<string, KeyObject>,
): Verification {
  const sig = headers?.[SIGNATURE_HEADER];
  const keyId = headers?.[KEY_ID_HEADER];
  const sigText = Buffer.isBuffer(sig) ? sig.toString('utf8') : sig;
  const keyText = Buffer.isBuffer(keyId) ? keyId.toString('utf8') : keyId;
  if (typeof sigText !== 'string' || sigText === '')
    return { ok: false, code: 'unsigned', reason: 'unsigned: no signature header' };
  if (typeof keyText !== 'string' || keyText === '')
    return { ok: false, code: 'unsigned', reason: 'unsigned: no key id header' };
  const key = trusted.get(keyText);
  if (!key) return { ok: false, code: 'untrusted_key', reason: `signed by an untrusted key ${shownKeyId(keyText)}` };
  const raw = Buffer.from(sigText, 'base64');
  if (raw.length !== 64) return { ok: false, code: 'bad_signature', reason: 'bad signature: not an Ed25519 signature' };
  let good: boolean;
  try {
    good = verify(null, body, key, raw);
  } catch {
    good = false;
  }
  return good
    ? { ok: true, keyId: keyText }
    : { ok: false, code: 'bad_signature', reason: 'bad signature: the message was altered or signed with another key' };
}

/** A key ring for {@link verifyBody}: fingerprint → key. */
export function keyRing(keys: Iterable<TrustedKey>): Map<string, KeyObject> {
  const ring = new Map<string, KeyObject>();
  for (const k of keys) ring.set(k.keyId, k.publicKey);
  return ring;
}
