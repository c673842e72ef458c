import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { Stores } from '../store/stores';
import { HealthController } from './health.controller';

async function probe(connected: boolean, ping: () => Promise<void>) {
  const answer = { status: 0, body: null as unknown };
  const res = {
    status(code: number) {
      answer.status = code;
      return this;
    },
    json(body: unknown) {
      answer.body = body;
    },
  } as unknown as Response;
  await new HealthController({ connected } as BrokerService, { ping } as Stores).health(res);
  return answer;
}

describe('GET /healthz', () => {
  it('is 200 when the broker is connected and the database answers', async () => {
    expect(await probe(true, async () => undefined)).toEqual({
      status: 200,
      body: { status: 'ok', broker: 'connected', database: 'ok' },
    });
  });

  it('is 503 and says so when the database does not answer', async () => {
    const down = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    };
    expect(await probe(true, down)).toEqual({
      status: 503,
      body: { status: 'degraded', broker: 'connected', database: 'unavailable' },
    });
  });

  it('is 503 when the broker is away', async () => {
    expect((await probe(false, async () => undefined)).status).toBe(503);
  });
});
