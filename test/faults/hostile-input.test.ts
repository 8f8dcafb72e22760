// Fault 5: malformed records (random bytes, truncated Avro, unknown schema ids, bad headers, bad
// keys, oversized) mixed into real traffic: each is dead-lettered with a reason, nothing stalls,
// good sagas are unaffected. The tracker's API, given malformed requests under load, answers 4xx.
import { DEAD_LETTER_REASONS } from '@troupe/sdk';
import { describe, expect, it } from 'vitest';
import { deadLetterTopicOf, headerString } from '@troupe/core';
import { runFault } from './driver/fault-run.js';
import { fuzzTrackerApi } from './driver/tracker-api-fuzz.js';
import { DOMAIN_TOPICS, deadLettersOf, readTopics } from './driver/verify.js';
import { HOSTILE_HEADER, judgeHostile, sendHostileInput, type HostileLog } from './injectors/hostile-input.js';

describe('fault: hostile input', () => {
  it('malformed records among good traffic are each dead-lettered with a reason; good sagas end as expected; the API answers bad requests with 4xx', async () => {
    const sent: HostileLog = new Map();
    const report = await runFault({
      fault: 'hostile-input',
      sagas: 150,
      rate: 5,
      inject: (ctx) => sendHostileInput(ctx, { intervalMs: 700, sent }),
      verifyMore: async (ctx) => {
        const records = await readTopics(
          ctx.brokers,
          DOMAIN_TOPICS.map((t) => deadLetterTopicOf(t)),
        );
        const dead = deadLettersOf(records).map((d, i) => ({ ...d, marker: headerString(records[i]?.headers, HOSTILE_HEADER) }));
        return { hostile: judgeHostile(sent, dead), trackerApi: await fuzzTrackerApi(ctx.fleet.trackerUrl) };
      },
    });
    const hostile = report.verified['hostile'] as ReturnType<typeof judgeHostile>;
    const api = report.verified['trackerApi'] as Awaited<ReturnType<typeof fuzzTrackerApi>>;
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(hostile.sent).toBeGreaterThan(0);
    expect(hostile.notDeadLettered).toEqual([]);
    for (const reason of Object.keys(hostile.reasons)) expect(DEAD_LETTER_REASONS).toContain(reason);
    expect(api.failures).toEqual([]);
  }, 600_000);
});
