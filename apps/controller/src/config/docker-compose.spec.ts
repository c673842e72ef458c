import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { resolve } from 'node:path';
import { splitBrokerUrls } from '@warren/amqp';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { controllerProgram, loadControllerConfig } from './controller.config';

/** /docker-compose.yml: the lab (no profile) and the `cluster` profile (docs/scaling.md). */
const COMPOSE = resolve(__dirname, '../../../../docker-compose.yml');

/** The parts of a Compose service this spec reads. */
interface Service {
  image?: string;
  build?: string;
  hostname?: string;
  profiles?: string[];
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}

// `merge`: the file uses YAML merge keys (`<<: *agent`), as Compose does.
const compose = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const inCluster = (name: string) => services[name].profiles?.includes('cluster') === true;
const env = (name: string) => services[name].environment ?? {};

/** The named volume and the path inside it that `path` is, in the service's mounts; throws when no mount holds it. */
function onVolume(service: string, path: string): { volume: string; file: string; readOnly: boolean } {
  for (const m of services[service].volumes ?? []) {
    const [volume, target, mode] = m.split(':');
    const rel = posix.relative(target, path);
    if (!rel.startsWith('..') && !posix.isAbsolute(rel)) return { volume, file: rel, readOnly: mode === 'ro' };
  }
  throw new Error(`${service}: no volume holds ${path}`);
}

/** Every WARREN_* variable the controller reads, from its `--help` (`[env WARREN_…]`). */
const CONTROLLER_ENV = controllerProgram().options.map((o) => /\[env (WARREN_[A-Z0-9_]+)\]/.exec(o.description)![1]);

const CLUSTER_CONTROLLERS = ['controller-a', 'controller-b'];
const clusterAgents = () =>
  Object.keys(services).filter((s) => inCluster(s) && services[s].command?.[0] === 'warren-agent');
/** The cluster profile's RabbitMQ nodes: its services on a `rabbitmq` image. */
const clusterRabbits = () =>
  Object.keys(services).filter((s) => inCluster(s) && /^rabbitmq:/.test(services[s].image ?? ''));

/** The `key = value` settings of a rabbitmq.conf file (sysctl format; `#` starts a comment line). */
function rabbitConf(path: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([^#\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) settings.set(m[1], m[2]);
  }
  return settings;
}

describe('docker-compose.yml, default services (no profile)', () => {
  it('are the lab as before: the broker, one controller and three agents, none in a profile', () => {
    const defaults = Object.keys(services).filter((s) => services[s].profiles === undefined);
    expect(defaults.sort()).toEqual(['agent1', 'agent2', 'agent3', 'controller', 'rabbitmq']);
    expect(env('controller')).toEqual({
      WARREN_BROKER_URL: 'amqp://warren:warren@rabbitmq:5672',
      WARREN_BIND: '0.0.0.0',
      WARREN_PORT: '7070',
      WARREN_STATE_DIR: '/data',
      WARREN_AUTO_ACCEPT: 'true',
    });
    expect(services.controller.ports).toEqual(['7070:7070']);
    for (const a of ['agent1', 'agent2', 'agent3']) {
      expect(services[a].depends_on).toEqual({
        rabbitmq: { condition: 'service_healthy' },
        controller: { condition: 'service_started' },
      });
      expect(onVolume(a, env(a).WARREN_TRUST)).toEqual({
        volume: 'controller-data',
        file: 'controller.pub',
        readOnly: true,
      });
    }
  });

  it('need nothing of the cluster profile, so `docker compose up` without it starts exactly them', () => {
    const defaults = Object.keys(services).filter((s) => !inCluster(s));
    for (const s of defaults) {
      expect(Object.keys(services[s].depends_on ?? {}).filter(inCluster), s).toEqual([]);
      const theirVolumes = (services[s].volumes ?? []).map((v) => v.split(':')[0]);
      const clusterVolumes = Object.keys(services)
        .filter(inCluster)
        .flatMap((c) => (services[c].volumes ?? []).map((v) => v.split(':')[0]));
      expect(
        theirVolumes.filter((v) => clusterVolumes.includes(v)),
        s,
      ).toEqual([]);
    }
  });
});

describe('docker-compose.yml, profile cluster', () => {
  it('adds PostgreSQL (official image, a named volume, healthy once pg_isready answers)', () => {
    const pg = services.postgres;
    expect(pg.profiles).toEqual(['cluster']);
    expect(pg.image).toMatch(/^postgres:\d+/);
    expect(pg.healthcheck?.test.join(' ')).toMatch(/pg_isready/);
    const { volume, file } = onVolume('postgres', '/var/lib/postgresql/data');
    expect(file).toBe('');
    expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it('runs two controllers on one PostgreSQL database and one broker namespace, each on its own port', () => {
    for (const c of CLUSTER_CONTROLLERS) {
      expect(services[c].profiles, c).toEqual(['cluster']);
      expect(services[c].command, c).toEqual(['warren-controller']);
      expect(services[c].depends_on, c).toMatchObject({ postgres: { condition: 'service_healthy' } });
      expect(
        Object.keys(env(c)).filter((v) => !CONTROLLER_ENV.includes(v)),
        c,
      ).toEqual([]);
    }
    const [a, b] = CLUSTER_CONTROLLERS.map(env);
    const db = new URL(a.WARREN_DB);
    expect(db.protocol).toBe('postgres:');
    expect(db.hostname).toBe('postgres');
    expect(b.WARREN_DB).toBe(a.WARREN_DB);
    expect(b.WARREN_BROKER_URL).toBe(a.WARREN_BROKER_URL);
    expect(b.WARREN_NAMESPACE).toBe(a.WARREN_NAMESPACE);
    // Its own namespace: the lab's controller (SQLite) must not compete for the cluster's results.
    expect(a.WARREN_NAMESPACE ?? 'warren').not.toBe(env('controller').WARREN_NAMESPACE ?? 'warren');
    const ports = [...CLUSTER_CONTROLLERS, 'controller'].map((c) => loadControllerConfig([], env(c)).port);
    expect(new Set(ports).size).toBe(3);
    for (const c of CLUSTER_CONTROLLERS)
      expect(services[c].ports, c).toEqual([`${env(c).WARREN_PORT}:${env(c).WARREN_PORT}`]);
  });

  it('gives both controllers the same signing key, made once before either starts', () => {
    const keys = CLUSTER_CONTROLLERS.map((c) => onVolume(c, env(c).WARREN_KEY));
    expect(keys[1]).toEqual(keys[0]);
    const makers = Object.keys(services).filter(
      (s) => inCluster(s) && services[s].command?.join(' ').includes('warren-controller keygen'),
    );
    expect(makers).toHaveLength(1);
    const [maker] = makers;
    const out = /keygen --out (\S+)/.exec(services[maker].command!.join(' '))![1];
    expect(onVolume(maker, out)).toMatchObject({ volume: keys[0].volume, file: keys[0].file, readOnly: false });
    // It must not fail on the next `up`, when the key exists (keygen refuses to overwrite).
    expect(services[maker].command!.join(' ')).toMatch(new RegExp(`test -f ${out} \\|\\|`));
    for (const c of CLUSTER_CONTROLLERS)
      expect(services[c].depends_on?.[maker], c).toEqual({ condition: 'service_completed_successfully' });
  });

  it("starts agents in the cluster's namespace and broker that trust that key's public half", () => {
    const agents = clusterAgents();
    expect(agents.length).toBeGreaterThanOrEqual(2);
    const key = onVolume('controller-a', env('controller-a').WARREN_KEY);
    const pub = key.file.replace(/\.key$/, '.pub');
    for (const a of agents) {
      expect(services[a].profiles, a).toEqual(['cluster']);
      expect(env(a).WARREN_NAMESPACE, a).toBe(env('controller-a').WARREN_NAMESPACE);
      expect(env(a).WARREN_BROKER_URL, a).toBe(env('controller-a').WARREN_BROKER_URL);
      expect(onVolume(a, env(a).WARREN_TRUST), a).toEqual({ volume: key.volume, file: pub, readOnly: true });
      expect(Object.keys(services[a].depends_on ?? {}), a).not.toContain('controller');
    }
    const hosts = [...agents, 'agent1', 'agent2', 'agent3'].map((a) => env(a).WARREN_HOST_ID);
    expect(new Set(hosts).size).toBe(hosts.length);
  });
});

describe('docker-compose.yml, profile cluster: a RabbitMQ cluster of three nodes', () => {
  const rabbits = clusterRabbits();

  it('runs three RabbitMQ nodes, each named after a host name other services can resolve', () => {
    expect(rabbits).toHaveLength(3);
    for (const r of rabbits) {
      expect(services[r].profiles, r).toEqual(['cluster']);
      // Compose's DNS answers service names, not `hostname:`: the node's host must be its service name.
      expect(services[r].hostname, r).toBe(r);
      expect(env(r).RABBITMQ_NODENAME, r).toBe(`rabbit@${r}`);
      expect(services[r].healthcheck?.test.join(' '), r).toMatch(/rabbitmq-diagnostics/);
    }
  });

  it('gives the nodes one Erlang cookie and one set of credentials', () => {
    const cookies = new Set(rabbits.map((r) => env(r).RABBITMQ_ERLANG_COOKIE));
    expect(cookies.size).toBe(1);
    expect([...cookies][0]).toMatch(/^[A-Za-z0-9_-]{16,255}$/);
    expect(new Set(rabbits.map((r) => `${env(r).RABBITMQ_DEFAULT_USER}:${env(r).RABBITMQ_DEFAULT_PASS}`)).size).toBe(1);
  });

  it("keeps each node's data (its membership, its replicas) in a named volume of its own", () => {
    const data = rabbits.map((r) => onVolume(r, '/var/lib/rabbitmq'));
    for (const d of data) {
      expect(d.file).toBe('');
      expect(d.readOnly).toBe(false);
      expect(Object.keys(compose.volumes)).toContain(d.volume);
    }
    expect(new Set(data.map((d) => d.volume)).size).toBe(3);
    // No other service mounts them: a node's data directory is its own.
    const others = Object.keys(services).filter((s) => !rabbits.includes(s));
    for (const s of others)
      for (const m of services[s].volumes ?? [])
        expect(
          data.map((d) => d.volume),
          s,
        ).not.toContain(m.split(':')[0]);
  });

  it('forms the cluster at boot from one mounted config listing exactly the three nodes (classic peer discovery)', () => {
    const mounts = rabbits.map((r) => {
      const m = (services[r].volumes ?? [])
        .map((v) => v.split(':'))
        .find(([, target]) => /^\/etc\/rabbitmq\//.test(target));
      expect(m, `${r}: no file mounted under /etc/rabbitmq/`).toBeDefined();
      const [source, target, mode] = m!;
      // Read by the node: rabbitmq.conf itself, or a file of conf.d/ (the image keeps its defaults there).
      expect(target, r).toMatch(/^\/etc\/rabbitmq\/(rabbitmq\.conf|conf\.d\/[^/]+\.conf)$/);
      expect(mode, r).toBe('ro');
      return source;
    });
    expect(new Set(mounts).size).toBe(1);
    expect(mounts[0]).toMatch(/^\.\//);
    const conf = rabbitConf(resolve(COMPOSE, '..', mounts[0]));
    expect(conf.get('cluster_formation.peer_discovery_backend')).toBe('classic_config');
    const listed = [...conf]
      .filter(([k]) => /^cluster_formation\.classic_config\.nodes\.\d+$/.test(k))
      .map(([, v]) => v);
    expect(listed.sort()).toEqual(rabbits.map((r) => env(r).RABBITMQ_NODENAME).sort());
  });

  it('gives every cluster controller and agent all three nodes, with the credentials the nodes were given', () => {
    const clients = [...CLUSTER_CONTROLLERS, ...clusterAgents()];
    const { RABBITMQ_DEFAULT_USER: user, RABBITMQ_DEFAULT_PASS: pass } = env(rabbits[0]);
    for (const c of clients) {
      const urls = splitBrokerUrls(env(c).WARREN_BROKER_URL).map((u) => new URL(u));
      expect(urls.map((u) => u.hostname).sort(), c).toEqual([...rabbits].sort());
      for (const u of urls) {
        expect(u.protocol, c).toBe('amqp:');
        expect(u.port || '5672', c).toBe('5672');
        expect([decodeURIComponent(u.username), decodeURIComponent(u.password)], c).toEqual([user, pass]);
      }
      // Started once the three are healthy, never on the lab's single broker.
      for (const r of rabbits)
        expect(services[c].depends_on?.[r], `${c} → ${r}`).toEqual({ condition: 'service_healthy' });
      expect(Object.keys(services[c].depends_on ?? {}), c).not.toContain('rabbitmq');
    }
  });

  it('declares quorum queues everywhere in the cluster, and leaves the lab on the classic default', () => {
    for (const c of [...CLUSTER_CONTROLLERS, ...clusterAgents()]) expect(env(c).WARREN_QUEUE_TYPE, c).toBe('quorum');
    for (const c of CLUSTER_CONTROLLERS) expect(loadControllerConfig([], env(c)).queueType, c).toBe('quorum');
    expect(loadControllerConfig([], env('controller')).queueType).toBe('classic');
    for (const c of ['controller', 'agent1', 'agent2', 'agent3']) expect(env(c).WARREN_QUEUE_TYPE, c).toBeUndefined();
  });
});
