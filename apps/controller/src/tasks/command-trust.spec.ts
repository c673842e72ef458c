import { describe, expect, it } from 'vitest';
import type { HostKeysStore, HostKeyView } from '../hosts/host-keys.store';
import type { HostsRegistry } from '../hosts/hosts.registry';
import { CommandTrust } from './command-trust';

/** A trust check over hosts whose stored view and "accepted key gone" are given. */
function trustOf(hosts: Record<string, { gone?: boolean; view: HostKeyView }>) {
  const viewed: string[] = [];
  const keys = {
    acceptedKeyIdOf: (h: string) => hosts[h]?.view.keyId ?? null,
    view: async (h: string) => {
      viewed.push(h);
      return hosts[h]?.view ?? { trust: 'unknown', keyId: null, pendingKeyIds: [] };
    },
  } as unknown as HostKeysStore;
  const registry = {
    acceptedKeyGone: (h: string) => hosts[h]?.gone ?? false,
    known: () => Object.keys(hosts).map((host) => ({ host })),
  } as unknown as HostsRegistry;
  return { trust: new CommandTrust(keys, registry), viewed };
}

const accepted: HostKeyView = { trust: 'accepted', keyId: 'k1', pendingKeyIds: [] };

describe('CommandTrust', () => {
  it('lets an accepted host through, also one merely offline, with the accepted key its command is addressed to', async () => {
    const { trust, viewed } = trustOf({
      web1: { view: accepted },
      web2: { gone: true, view: accepted },
    });
    expect(await trust.check('web1', 0)).toEqual({ agentKeyId: 'k1' });
    expect(await trust.check('web2', 0)).toEqual({ agentKeyId: 'k1' });
    // Online with its accepted key: decided in memory; only the offline one's pending keys are read.
    expect(viewed).toEqual(['web2']);
  });

  it('lets a host whose accepted key is still heard through to that key, while another key awaits acceptance', async () => {
    const { trust } = trustOf({ web4: { view: { trust: 'changed', keyId: 'k1', pendingKeyIds: ['k2'] } } });
    expect(await trust.check('web4', 0)).toEqual({ agentKeyId: 'k1' });
    expect(await trust.acceptedKeyId('web4')).toBe('k1');
    expect(await trust.acceptedKeyId('ghost')).toBeNull();
  });

  it('refuses a host never announced as unknown_host', async () => {
    const { trust } = trustOf({});
    expect(await trust.check('ghost', 0)).toEqual({
      state: 'unknown_host',
      reason: 'no agent has announced host ghost to this controller',
    });
  });

  it('refuses a host named in other letter case as unknown_host, naming the known host it differs from only in case', async () => {
    const { trust } = trustOf({ 'Web01.Example.COM': { view: accepted } });
    expect(await trust.check('web01.example.com', 0, () => true)).toEqual({
      state: 'unknown_host',
      reason:
        'no agent has announced host web01.example.com to this controller; host ids are case-sensitive, and Web01.Example.COM is known (differs only in case)',
    });
  });

  it('names no known host outside the task creator’s scope (nor any when no scope is given, as for a rolling run)', async () => {
    const { trust } = trustOf({ 'Web01.Example.COM': { view: accepted } });
    const plain = { state: 'unknown_host', reason: 'no agent has announced host web01.example.com to this controller' };
    expect(await trust.check('web01.example.com', 0, (h) => h.startsWith('web'))).toEqual(plain);
    expect(await trust.check('web01.example.com', 0)).toEqual(plain);
  });

  it('refuses a host whose key awaits acceptance, and one whose accepted key is gone for another, as rejected', async () => {
    const { trust } = trustOf({
      db1: { view: { trust: 'pending', keyId: null, pendingKeyIds: ['kp'] } },
      web3: { gone: true, view: { trust: 'changed', keyId: 'k1', pendingKeyIds: ['k2'] } },
    });
    expect(await trust.check('db1', 0)).toEqual({
      state: 'rejected',
      reason: "controller: host db1's key kp is not accepted; check it and run `warren hosts accept db1`",
    });
    expect(await trust.check('web3', 0)).toMatchObject({
      state: 'rejected',
      reason: expect.stringMatching(
        /^controller: host web3 now announces another key \(k2\) and its accepted key is gone/,
      ),
    });
  });
});
