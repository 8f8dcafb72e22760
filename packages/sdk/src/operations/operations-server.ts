import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, SdkError } from '../errors.js';
import type { Participant } from '../participant/participant.js';

export interface OperationsServerOptions {
  readonly participants: readonly Participant[];
  /** @default 0 (any free port; read it from `url`) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /**
   * Extra readiness checks, e.g. `{ registry: () => fetch(url + '/subjects').then(...) }`; a check
   * passes when it resolves.
   */
  readonly checks?: Readonly<Record<string, () => Promise<void>>>;
}

/**
 * Optional HTTP endpoints for orchestrators and Prometheus:
 * `GET /health/live` (200 while every participant's consumer runs), `GET /health/ready` (200 when
 * also the broker, the extra checks and progress are fine; 503 with the reasons otherwise; `status`
 * is `degraded` while a circuit breaker is open, still 200) and `GET /metrics` (all participants'
 * metrics).
 */
export class OperationsServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async create(opts: OperationsServerOptions): Promise<OperationsServer> {
    if (!opts.participants?.length) throw new SdkError('CONFIG_INVALID', 'OperationsServer needs at least one participant');
    const registries = [...new Set(opts.participants.map((p) => p.metrics))];
    const metrics = registries[0];
    if (!metrics || registries.length > 1) {
      throw new SdkError('CONFIG_INVALID', 'participants served by one OperationsServer must share a metrics registry (the default does)');
    }
    const server = createServer((req, res) => {
      const reply = (status: number, body: string, type = 'application/json'): void => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      };
      void (async () => {
        try {
          if (req.method !== 'GET') return reply(405, '{"error":"GET only"}');
          switch (req.url ?? '') {
            case '/health/live':
            case '/health/ready': {
              const reports = await Promise.all(opts.participants.map(async (p) => ({ participant: p.name, ...(await p.health()) })));
              const checks: Record<string, string> = {};
              for (const [name, check] of Object.entries(opts.checks ?? {})) {
                checks[name] = await check().then(
                  () => 'ok',
                  (err: unknown) => `failed: ${describeError(err)}`,
                );
              }
              const live = reports.every((r) => r.live);
              const ready = live && reports.every((r) => r.ready) && Object.values(checks).every((c) => c === 'ok');
              const ok = req.url === '/health/live' ? live : ready;
              // Degraded (an open circuit breaker) is still ready: the events of that handler wait.
              const degraded = reports.some((r) => r.degraded);
              const status = !ok ? 'unavailable' : degraded ? 'degraded' : 'ok';
              return reply(ok ? 200 : 503, JSON.stringify({ status, live, ready, degraded, participants: reports, checks }));
            }
            case '/metrics':
              return reply(200, await metrics.metrics(), metrics.contentType);
            default:
              return reply(404, '{"error":"not found; try /health/live, /health/ready or /metrics"}');
          }
        } catch (err) {
          reply(500, JSON.stringify({ error: describeError(err) }));
        }
      })();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const { address, port } = server.address() as AddressInfo;
    return new OperationsServer(server, `http://${address}:${port}`);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}
