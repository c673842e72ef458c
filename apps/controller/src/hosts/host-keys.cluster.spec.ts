import { describe, expect, it } from 'vitest';
import { HostKeysStore } from './host-keys.store';
import { announced, setup } from './host-keys.fixtures';

/** Two controllers' host-key stores over one database: A as the fixtures build it, and B beside it. */
async function twoControllers() {
  const a = await setup();
  const b = new HostKeysStore(a.reopen(), a.clock);
  await b.onModuleInit();
  const told: string[] = [];
  a.keys.onChanged((host) => told.push(host));
  return { ...a, b, told };
}

describe('HostKeysStore with several controllers on one database', () => {
  it('tells its listeners of every key change it makes, and not of a heartbeat that changes nothing', async () => {
    const { keys, told } = await twoControllers();
    const k1 = announced();
    const k2 = announced();
    await keys.seen('web1', k1.publicKey, k1.keyId, false);
    expect(told).toEqual([]); // a pending key: nothing cached anywhere
    await keys.accept('web1', undefined, 'alice');
    await keys.seen('web2', k2.publicKey, k2.keyId, true); // auto-accepted
    await keys.seen('web2', k2.publicKey, k2.keyId, true); // heard again: nothing changed
    const k3 = announced();
    await keys.seen('web3', k3.publicKey, k3.keyId, false);
    await keys.reject('web3', undefined, 'alice');
    await expect(keys.accept('web9', undefined, 'alice')).rejects.toThrow(); // refused: nothing changed
    expect(told).toEqual(['web1', 'web2', 'web3']);
  });

  it('reload(host) makes a key accepted through another controller trusted here, and a replaced one not', async () => {
    const { keys, b } = await twoControllers();
    const k1 = announced();
    await keys.seen('web1', k1.publicKey, k1.keyId, false);
    await keys.accept('web1', undefined, 'alice');
    expect(b.isAccepted('web1')).toBe(false);
    await b.reload('web1');
    expect(b.acceptedKey(k1.keyId)?.host).toBe('web1');
    // Reinstalled: A accepts the new key; B drops the old one on reload.
    const k2 = announced();
    await keys.seen('web1', k2.publicKey, k2.keyId, false);
    await keys.accept('web1', k2.keyId, 'alice');
    await b.reload('web1');
    expect(b.acceptedKey(k1.keyId)).toBeNull();
    expect(b.acceptedKey(k2.keyId)?.host).toBe('web1');
  });

  it('reloadAll catches up with every accept it was not told of (the periodic safety net)', async () => {
    const { keys, b } = await twoControllers();
    const hosts = ['web1', 'web2', 'web3'];
    for (const h of hosts) {
      const k = announced();
      await keys.seen(h, k.publicKey, k.keyId, true);
    }
    expect(hosts.map((h) => b.isAccepted(h))).toEqual([false, false, false]);
    await b.reloadAll();
    expect(hosts.map((h) => b.isAccepted(h))).toEqual([true, true, true]);
  });

  it('trusts at once a key it hears as already accepted by another controller', async () => {
    const { keys, b, clock } = await twoControllers();
    const k = announced();
    await keys.seen('web1', k.publicKey, k.keyId, false);
    await keys.accept('web1', undefined, 'alice');
    clock.advance(1_000);
    expect((await b.seen('web1', k.publicKey, k.keyId, false, { sentAt: clock.now() })).result).toBe('accepted');
    expect(b.acceptedKey(k.keyId)?.host).toBe('web1');
  });
});
