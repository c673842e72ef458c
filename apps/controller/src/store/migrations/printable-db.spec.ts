import { describe, expect, it } from 'vitest';
import { printableDb } from './migrate-database';

describe('printableDb: no database password in logs', () => {
  it('hides the password of the userinfo', () => {
    expect(printableDb('postgres://warren:s3cr3t@db1:5432/warren')).toBe('postgres://warren:***@db1:5432/warren');
    expect(printableDb('postgresql://warren:pw@db1/warren?sslmode=require')).toBe(
      'postgresql://warren:***@db1/warren?sslmode=require',
    );
  });

  it('hides a password= parameter', () => {
    const shown = printableDb('postgres://warren@db1/w?password=pw&sslmode=require');
    expect(shown).not.toContain('pw&');
    expect(new URL(shown).searchParams.get('password')).toBe('***');
    expect(new URL(shown).searchParams.get('sslmode')).toBe('require');
  });

  it('leaves a URL without a password and a SQLite path as they are', () => {
    expect(printableDb('postgres://warren@db1/warren')).toBe('postgres://warren@db1/warren');
    expect(printableDb('/var/lib/warren/controller.db')).toBe('/var/lib/warren/controller.db');
  });
});
