import { describe, expect, it } from 'vitest';
import type { HostKeysStore, HostKeyView } from '../hosts/host-keys.store';
import type { HostsRegistry } from '../hosts/hosts.registry';
import { CommandTrust } from './command-trust';

/** A trust check over hosts whose accepted flag, stored view and "accepted key gone" are given. */
function trustOf(hosts: Record<string, { accepted: boolean; gone?: boolean; view: HostKeyView }>) {
  const viewed: string[] = [];
  const keys = {
    isAccepted: (h: string) => hosts[h]?.accepted ?? false,
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
  it('lets an accepted host through without reading the store, and one merely offline after reading it', async () => {
    const { trust, viewed } = trustOf({
      web1: { accepted: true, view: accepted },
      web2: { accepted: true, gone: true, view: accepted },
    });
    expect(await trust.refusal('web1', 0)).toBeNull();
    expect(viewed).toEqual([]);
    expect(await trust.refusal('web2', 0)).toBeNull();
    expect(viewed).toEqual(['web2']);
  });

  it('refuses a host never announced as unknown_host', async () => {
    const { trust } = trustOf({});
    expect(await trust.refusal('ghost', 0)).toEqual({
      state: 'unknown_host',
      reason: 'no agent has announced host ghost to this controller',
    });
  });

  it('refuses a host named in other letter case as unknown_host, naming the known host it differs from only in case', async () => {
    const { trust } = trustOf({ 'Web01.Example.COM': { accepted: true, view: accepted } });
    expect(await trust.refusal('web01.example.com', 0)).toEqual({
      state: 'unknown_host',
      reason:
        'no agent has announced host web01.example.com to this controller; host ids are case-sensitive, and Web01.Example.COM is known (differs only in case)',
    });
  });

  it('refuses a host whose key awaits acceptance, and one whose accepted key is gone for another, as rejected', async () => {
    const { trust } = trustOf({
      db1: { accepted: false, view: { trust: 'pending', keyId: null, pendingKeyIds: ['kp'] } },
      web3: { accepted: true, gone: true, view: { trust: 'changed', keyId: 'k1', pendingKeyIds: ['k2'] } },
    });
    expect(await trust.refusal('db1', 0)).toEqual({
      state: 'rejected',
      reason: "controller: host db1's key kp is not accepted; check it and run `warren hosts accept db1`",
    });
    expect(await trust.refusal('web3', 0)).toMatchObject({
      state: 'rejected',
      reason: expect.stringMatching(
        /^controller: host web3 now announces another key \(k2\) and its accepted key is gone/,
      ),
    });
  });
});
