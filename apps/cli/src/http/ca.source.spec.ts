import { describe, expect, it } from 'vitest';
import { UsageError } from '../cli.errors';
import { readCaFile, resolveCaFile } from './ca.source';

describe('the CA file (--ca, WARREN_CA)', () => {
  it('is --ca, else WARREN_CA, else none', () => {
    expect(resolveCaFile('/a.pem', { WARREN_CA: '/b.pem' })).toBe('/a.pem');
    expect(resolveCaFile(undefined, { WARREN_CA: '/b.pem' })).toBe('/b.pem');
    expect(resolveCaFile(undefined, { WARREN_CA: '' })).toBeNull();
  });

  it('must be readable and hold a PEM certificate: a usage error otherwise', () => {
    const pem = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(readCaFile('/ca.pem', () => pem)).toBe(pem);
    const missing = () =>
      readCaFile('/nope.pem', () => {
        throw Object.assign(new Error('no'), { code: 'ENOENT' });
      });
    expect(missing).toThrow(UsageError);
    expect(missing).toThrow('cannot read the CA file /nope.pem (--ca): ENOENT');
    expect(() => readCaFile('/key.pem', () => Buffer.from('-----BEGIN PRIVATE KEY-----'))).toThrow(
      /holds no PEM certificate/,
    );
  });
});
