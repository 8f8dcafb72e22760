import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SdkError } from '@troupe/sdk';
import type { OrderPlaced } from '../generated/events.js';
import type { OrderDesk } from './order-desk.js';

/** The order service's HTTP API. */
export interface OrderApi {
  readonly url: string;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * `POST /orders` (an OrderPlaced as JSON): 201 when stored and its saga started, 200 when the order
 * id was placed before (idempotent: retry with the same id), 400 for an invalid order, 413 when its
 * OrderPlaced is larger than the orders topic's max.message.bytes (nothing stored), 503 when the
 * database is unavailable (retry later). `GET /orders/count?prefix=` counts stored orders.
 */
export function startOrderApi(desk: OrderDesk, port: number, host = '0.0.0.0'): Promise<OrderApi> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      try {
        if (req.method === 'POST' && url.pathname === '/orders') {
          const order = (await readJson(req)) as OrderPlaced;
          const result = await desk.place(order);
          reply(res, result === 'created' ? 201 : 200, { orderId: order.orderId, result });
        } else if (req.method === 'GET' && url.pathname === '/orders/count') {
          reply(res, 200, { orders: await desk.count(url.searchParams.get('prefix') ?? '') });
        } else {
          reply(res, 404, { error: 'POST /orders or GET /orders/count' });
        }
      } catch (err) {
        const retriable = err instanceof SdkError && err.retriable;
        // Bad JSON, a payload the schema refuses, or a value the order table refuses (SQLSTATE classes 22, 23).
        const sqlState = (err as { code?: unknown }).code;
        const invalid =
          err instanceof SyntaxError ||
          (err instanceof SdkError && err.code === 'PAYLOAD_INVALID') ||
          (typeof sqlState === 'string' && (sqlState.startsWith('22') || sqlState.startsWith('23')));
        // An order whose OrderPlaced is larger than its topic takes: retrying the same order cannot help.
        const tooLarge = err instanceof SdkError && err.code === 'OUTPUT_REFUSED';
        const status = invalid ? 400 : tooLarge ? 413 : retriable ? 503 : 500;
        reply(res, status, { error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      resolve({
        url: `http://127.0.0.1:${bound}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

/**
 * The shop's side: posts the order until the order service answers 200 or 201 (it may be down or
 * restarting); the order id makes the retries safe.
 */
export async function postOrder(apiUrl: string, order: OrderPlaced, signal: AbortSignal, onRetry?: (why: string) => void): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    let why: string;
    try {
      const res = await fetch(`${apiUrl}/orders`, {
        method: 'POST',
        body: JSON.stringify(order),
        headers: { 'content-type': 'application/json' },
        signal,
      });
      if (res.status === 200 || res.status === 201) return;
      why = `${res.status} ${await res.text()}`;
      if (res.status < 500) throw new Error(`the order service refused order ${order.orderId}: ${why}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('the order service refused')) throw err;
      why = err instanceof Error ? err.message : String(err);
    }
    if (attempt === 1 || attempt % 20 === 0) onRetry?.(`order ${order.orderId}: ${why}; retrying with the same id`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
