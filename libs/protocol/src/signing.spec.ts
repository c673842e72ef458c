import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateSigningKey,
  KEY_ID_HEADER,
  keyRing,
  loadOrCreateSigningKey,
  parsePublicKey,
  readPublicKeyFile,
  SIGNATURE_HEADER,
  signBody,
  verifyBody,
  writeSigningKeyFiles,
} from './signing';

describe('envelope signatures', () => {
  const key = generateSigningKey();
  const ring = keyRing([key]);
  const body = Buffer.from(JSON.stringify({ v: 1, kind: 'command', command: 'uptime', host: 'web1' }));

  it('verifies a body signed by a trusted key', () => {
    expect(verifyBody(body, signBody(body, key), ring)).toEqual({ ok: true, keyId: key.keyId });
  });

  it('refuses every single-byte change of the body', () => {
    const headers = signBody(body, key);
    for (let i = 0; i < body.length; i++) {
      const altered = Buffer.from(body);
      altered[i] ^= 0x01;
      expect(verifyBody(altered, headers, ring)).toMatchObject({ ok: false, code: 'bad_signature' });
    }
  });

  it('refuses a missing signature, an unknown key id, a truncated signature, and a signature by another key under a trusted id', () => {
    const headers = signBody(body, key);
    expect(verifyBody(body, undefined, ring)).toMatchObject({ ok: false, code: 'unsigned' });
    expect(verifyBody(body, { [SIGNATURE_HEADER]: headers[SIGNATURE_HEADER] }, ring)).toMatchObject({
      ok: false,
      code: 'unsigned',
    });
    const other = generateSigningKey();
    expect(verifyBody(body, signBody(body, other), ring)).toMatchObject({ ok: false, code: 'untrusted_key' });
    expect(verifyBody(body, { ...signBody(body, other), [KEY_ID_HEADER]: key.keyId }, ring)).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
    expect(
      verifyBody(body, { ...headers, [SIGNATURE_HEADER]: headers[SIGNATURE_HEADER].slice(0, 40) }, ring),
    ).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('accepts headers as the Buffers amqplib may hand over', () => {
    const h = signBody(body, key);
    const asBuffers = {
      [SIGNATURE_HEADER]: Buffer.from(h[SIGNATURE_HEADER]),
      [KEY_ID_HEADER]: Buffer.from(h[KEY_ID_HEADER]),
    };
    expect(verifyBody(body, asBuffers, ring)).toMatchObject({ ok: true });
  });
});

describe('key files', () => {
  it('generates a key on first start (0600 private, 0644 public), reloads the same key after, never overwrites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-keys-'));
    const path = join(dir, 'state', 'controller.key');
    const first = loadOrCreateSigningKey(path);
    expect(first.created).toBe(true);
    expect(first.publicPath).toBe(join(dir, 'state', 'controller.pub'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(first.publicPath).mode & 0o777).toBe(0o644);
    const again = loadOrCreateSigningKey(path);
    expect(again.created).toBe(false);
    expect(again.key.keyId).toBe(first.key.keyId);
    expect(readPublicKeyFile(first.publicPath).keyId).toBe(first.key.keyId);
    expect(() => writeSigningKeyFiles(path, generateSigningKey())).toThrow(/already exists/);
    expect(readFileSync(path, 'utf8')).toContain('BEGIN PRIVATE KEY');
  });

  it('names the file and the problem for a bad key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-keys-'));
    writeFileSync(join(dir, 'bad.pub'), 'not a key');
    expect(() => readPublicKeyFile(join(dir, 'bad.pub'))).toThrow(/bad\.pub: not a public key/);
    expect(() => parsePublicKey(generateSigningKey().publicPem.replace('MCow', 'MCox'))).toThrow();
  });
});
