// docker-compose.yml cannot be run here (no Docker engine): this checks its structure instead.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { APICURIO_VERSION, KAFKA_VERSION } from '@troupe/testing';

interface Healthcheck {
  test?: string | string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}
interface Service {
  image?: string;
  command?: string[];
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: Healthcheck;
}
interface Compose {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const file = fileURLToPath(new URL('../docker-compose.yml', import.meta.url));

describe('docker-compose.yml', () => {
  let compose: Compose;
  let services: [string, Service][];
  beforeAll(async () => {
    // Docker Compose resolves YAML merge keys (`<<: *anchor`), so the check must too.
    compose = parse(await readFile(file, 'utf8'), { merge: true }) as Compose;
    services = Object.entries(compose.services);
  });

  it('has a Kafka broker and a schema registry', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['kafka', 'schema-registry']));
  });

  it('pins every image to an exact version (no latest, no floating tag)', () => {
    for (const [name, service] of services) {
      if (service.image === undefined) {
        expect(service.build, `${name} needs an image or a build`).toBeDefined();
        continue;
      }
      // An exact release: x.y.z, or x.y where the project versions that way (PostgreSQL).
      expect(service.image, name).toMatch(/^[a-z0-9./-]+:\d+\.\d+(\.\d+)?$/);
    }
  });

  it('runs the same Kafka and Apicurio versions as the local launchers', () => {
    expect(compose.services['kafka']?.image).toBe(`apache/kafka:${KAFKA_VERSION}`);
    expect(compose.services['schema-registry']?.image).toBe(`apicurio/apicurio-registry:${APICURIO_VERSION}`);
  });

  it('gives every service a healthcheck with a command and bounded retries', () => {
    for (const [name, service] of services) {
      const hc = service.healthcheck;
      expect(hc, `${name} has no healthcheck`).toBeDefined();
      const test = Array.isArray(hc?.test) ? hc.test : [hc?.test];
      expect(['CMD', 'CMD-SHELL'], `${name} healthcheck form`).toContain(test[0]);
      expect(test.length, `${name} healthcheck command`).toBeGreaterThan(1);
      expect(hc?.interval, name).toMatch(/^\d+s$/);
      expect(hc?.retries, name).toBeGreaterThan(0);
    }
  });

  it('only depends on services that exist, and waits until they are healthy', () => {
    for (const [name, service] of services) {
      const deps = service.depends_on ?? {};
      expect(Array.isArray(deps), `${name}: use the long depends_on form with a condition`).toBe(false);
      for (const [dep, spec] of Object.entries(deps as Record<string, { condition?: string }>)) {
        expect(Object.keys(compose.services), `${name} depends on unknown ${dep}`).toContain(dep);
        expect(spec.condition, `${name} -> ${dep}`).toBe('service_healthy');
      }
    }
    expect(Object.keys(compose.services['schema-registry']?.depends_on ?? {})).toContain('kafka');
  });

  it('publishes ports as quoted host:container pairs without clashes', () => {
    const hostPorts: string[] = [];
    for (const [name, service] of services) {
      for (const mapping of service.ports ?? []) {
        // host:container, optionally behind an interface (a literal address or a ${VAR:-default}).
        const m = /^(?:(?:[\d.]+|\$\{[A-Z_]+:-[\d.]+\}):)?(\d+):\d+$/.exec(mapping);
        expect(m, `${name}: ${mapping}`).not.toBeNull();
        hostPorts.push(m?.[1] ?? '');
      }
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(compose.services['kafka']?.ports).toContain('9092:9092');
  });

  it('configures Kafka as a KRaft broker+controller with host and in-network listeners', () => {
    const env = compose.services['kafka']?.environment ?? {};
    expect(env['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(env['KAFKA_CONTROLLER_QUORUM_VOTERS']).toMatch(/^1@kafka:\d+$/);
    expect(env['KAFKA_ADVERTISED_LISTENERS']).toContain('localhost:9092');
    const listenerNames = (env['KAFKA_LISTENERS'] ?? '').split(',').map((l) => l.split(':')[0]);
    const mapped = (env['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP'] ?? '').split(',').map((m) => m.split(':')[0]);
    expect([...listenerNames].sort()).toEqual([...mapped].sort());
    expect(listenerNames).toContain(env['KAFKA_CONTROLLER_LISTENER_NAMES']);
    expect(listenerNames).toContain(env['KAFKA_INTER_BROKER_LISTENER_NAME']);
    // Single node: internal topics cannot ask for more replicas than there are brokers.
    expect(env['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR']).toBe('1');
    expect(env['KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR']).toBe('1');
    expect(env['KAFKA_TRANSACTION_STATE_LOG_MIN_ISR']).toBe('1');
  });

  it('declares the named volumes it mounts', () => {
    for (const [name, service] of services) {
      for (const volume of (service as { volumes?: string[] }).volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (!source.startsWith('.') && !source.startsWith('/')) {
          expect(Object.keys(compose.volumes ?? {}), `${name} mounts undeclared volume ${source}`).toContain(source);
        }
      }
    }
  });

  it('runs the tracker and the four example services from the repository build, wired to Kafka, registry and PostgreSQL', () => {
    const tracker = compose.services['saga-tracker'];
    expect(tracker?.build).toBeDefined();
    expect(tracker?.command?.slice(0, 2)).toEqual(['node', 'packages/saga-tracker/dist/cli/troupe-tracker.js']);
    // Published on the host's loopback unless the operator opts in (with a token, see the comment there).
    expect(tracker?.ports).toEqual(['${TRACKER_BIND:-127.0.0.1}:8080:8080']);
    expect(tracker?.environment?.['TRACKER_TOKEN']).toBe('${TRACKER_TOKEN:-}');
    for (const name of ['order-service', 'payment-service', 'inventory-service', 'shipping-service']) {
      const svc = compose.services[name];
      expect(svc?.build, name).toBeDefined();
      expect(svc?.command, name).toEqual(['node', 'examples/order-fulfillment/dist/bin/service.js', name]);
      expect(svc?.environment?.['KAFKA_BROKERS'], name).toBe('kafka:19092');
      expect(svc?.environment?.['DATABASE_URL'], name).toMatch(/^postgres:\/\/.+@postgres:5432\//);
      expect(Object.keys(svc?.depends_on ?? {}), name).toEqual(expect.arrayContaining(['kafka', 'schema-registry', 'postgres']));
    }
    const shop = compose.services['shop'];
    expect(shop?.command).toEqual(expect.arrayContaining(['--kafka', '--tracker-url', 'http://saga-tracker:8080']));
    expect(Object.keys(shop?.depends_on ?? {})).toEqual(expect.arrayContaining(['saga-tracker', 'order-service', 'shipping-service']));
  });

  it('points every entry point at a file the build produces', async () => {
    const { existsSync } = await import('node:fs');
    const root = fileURLToPath(new URL('..', import.meta.url));
    for (const [name, service] of services) {
      const script = service.command?.[0] === 'node' ? service.command[1] : undefined;
      if (script === undefined) continue;
      const source = script.replace(/\/dist\//, '/src/').replace(/\.js$/, '.ts');
      expect(existsSync(`${root}${source}`), `${name}: ${source} (built to ${script}) does not exist`).toBe(true);
    }
  });
});
