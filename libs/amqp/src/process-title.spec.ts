import { describe, expect, it } from 'vitest';
import { scrubbedProcessTitle } from './process-title';

describe('scrubbedProcessTitle: no broker password in ps', () => {
  it('replaces the password of a --broker URL and keeps every other word', () => {
    expect(
      scrubbedProcessTitle([
        'node',
        '/opt/warren/bin/warren-agent.js',
        '--broker',
        'amqps://web1:s3cr3t@mq:5671/warren',
      ]),
    ).toBe('node /opt/warren/bin/warren-agent.js --broker amqps://web1:***@mq:5671/warren');
  });

  it('scrubs every URL of a cluster list, --broker=URL, and a password holding @ and :', () => {
    const title = scrubbedProcessTitle(['node', '--broker=amqp://a:pw1@n1:5672,amqp://a:p@w:2@n2', '--host', 'web1']);
    expect(title).toBe('node --broker=amqp://a:***@n1:5672,amqp://a:***@n2 --host web1');
    expect(title).not.toMatch(/pw1|p@w/);
  });

  it('scrubs a PostgreSQL --db URL too, in its userinfo or its password= parameter', () => {
    expect(
      scrubbedProcessTitle(['node', 'c.js', '--db', 'postgres://warren:pg%40pw@db1:5432/warren', '--port', '1']),
    ).toBe('node c.js --db postgres://warren:***@db1:5432/warren --port 1');
    expect(scrubbedProcessTitle(['node', '--db=postgresql://warren@db1/w?sslmode=require&password=pgpw&x=1'])).toBe(
      'node --db=postgresql://warren@db1/w?sslmode=require&password=***&x=1',
    );
  });

  it('leaves the title alone when no word holds a password', () => {
    expect(scrubbedProcessTitle(['node', 'main.js', '--db', 'postgres://warren@db1/warren'])).toBeNull();
    expect(scrubbedProcessTitle(['node', 'main.js', '--broker', 'amqps://web1@mq:5671'])).toBeNull();
    expect(scrubbedProcessTitle(['node', 'main.js', '--broker', 'amqp://127.0.0.1:5672'])).toBeNull();
  });
});
