/** Malformed requests to the tracker's HTTP API; each must get a clear 4xx (or a 2xx), never a 5xx or a dropped connection. */
const LONG = 'x'.repeat(10_000);
export const MALFORMED_REQUESTS: readonly {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}[] = [
  { method: 'GET', path: '/api/sagas?limit=-1' },
  { method: 'GET', path: '/api/sagas?limit=abc' },
  { method: 'GET', path: '/api/sagas?limit=99999999999999999999' },
  { method: 'GET', path: '/api/sagas?cursor=%E0%A4%A' },
  { method: 'GET', path: '/api/sagas?cursor=eyJub3QiOiJvdXJzIn0' },
  { method: 'GET', path: '/api/sagas?status=bogus' },
  { method: 'GET', path: '/api/sagas?from=not-a-date&to=' },
  { method: 'GET', path: '/api/sagas?prefix=%27%20OR%201%3D1%20--&type=%3Cscript%3E' },
  { method: 'GET', path: '/api/sagas?limit=1&limit=2&limit=3' },
  { method: 'GET', path: `/api/sagas?prefix=${LONG}` },
  { method: 'GET', path: '/api/sagas?attr=customerId' },
  { method: 'GET', path: '/api/sagas?stuck=maybe' },
  { method: 'GET', path: '/api/sagas/%00' },
  { method: 'GET', path: `/api/sagas/${LONG}` },
  { method: 'GET', path: '/api/sagas/..%2F..%2Fetc%2Fpasswd' },
  { method: 'GET', path: '/api/sagas/x?payloads=maybe' },
  { method: 'GET', path: '/api/sagas/%E0%A4%A' },
  { method: 'GET', path: '/api/stats?type=%ZZ' },
  { method: 'GET', path: '/api/stats?bogus=1' },
  { method: 'GET', path: '/api/types/nope/flow' },
  { method: 'GET', path: `/api/types/${LONG}/flow` },
  { method: 'GET', path: '/api/activity?from=tomorrow&bucket=-5' },
  { method: 'GET', path: '/api/stream', headers: { 'last-event-id': 'garbage-id' } },
  { method: 'GET', path: '/api/stream', headers: { 'last-event-id': '-1' } },
  { method: 'POST', path: '/api/sagas', body: '{not json', headers: { 'content-type': 'application/json' } },
  { method: 'POST', path: '/api/sagas', body: 'x'.repeat(2_000_000), headers: { 'content-type': 'application/json' } },
  { method: 'PUT', path: '/api/sagas/x', body: '{}', headers: { 'content-type': 'application/json' } },
  { method: 'DELETE', path: '/api/sagas/x' },
  { method: 'GET', path: '/api/does-not-exist' },
  { method: 'GET', path: '/health?verbose=%' },
];

/** Sends every malformed request; returns the status counts and the requests answered with a 5xx or not at all. */
export async function fuzzTrackerApi(trackerUrl: string): Promise<{ byStatus: Record<string, number>; failures: string[] }> {
  const byStatus: Record<string, number> = {};
  const failures: string[] = [];
  for (const r of MALFORMED_REQUESTS) {
    const label = `${r.method} ${r.path.slice(0, 80)}`;
    try {
      const res = await fetch(`${trackerUrl}${r.path}`, {
        method: r.method,
        ...(r.body !== undefined ? { body: r.body } : {}),
        ...(r.headers !== undefined ? { headers: r.headers } : {}),
        // The live stream stays open: its status line is the answer.
        signal: AbortSignal.timeout(10_000),
      });
      const key = `${Math.floor(res.status / 100)}xx`;
      byStatus[key] = (byStatus[key] ?? 0) + 1;
      if (res.status >= 500) failures.push(`${label} → ${res.status} ${(await res.text()).slice(0, 200)}`);
      await res.body?.cancel();
    } catch (err) {
      failures.push(`${label} → no answer (${String(err)})`);
    }
  }
  // Still serving afterwards.
  const health = await fetch(`${trackerUrl}/health`).catch(() => undefined);
  if (health === undefined || health.status >= 500) failures.push(`GET /health after the fuzz → ${health?.status ?? 'no answer'}`);
  return { byStatus, failures };
}
