import { describe, expect, it } from 'vitest';
import { redactDbUrl } from './db-url';

describe('redactDbUrl: no database password in logs', () => {
  it('hides the password of the userinfo, even one holding @ and :', () => {
    expect(redactDbUrl('postgres://warren:s3cr:t@x@db1:5432/warren')).toBe('postgres://warren:***@db1:5432/warren');
    expect(redactDbUrl('postgresql://warren:pw@db1/warren?sslmode=require')).toBe(
      'postgresql://warren:***@db1/warren?sslmode=require',
    );
  });

  it('hides a password= parameter', () => {
    expect(redactDbUrl('postgres://warren@db1/w?password=pw&sslmode=require')).toBe(
      'postgres://warren@db1/w?password=***&sslmode=require',
    );
  });

  it('leaves a URL without a password and a SQLite path as they are', () => {
    expect(redactDbUrl('postgres://warren@db1/warren')).toBe('postgres://warren@db1/warren');
    expect(redactDbUrl('/var/lib/warren/controller.db')).toBe('/var/lib/warren/controller.db');
  });
});
