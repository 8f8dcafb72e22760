// Fault 1: participant processes SIGKILLed at random moments under steady saga load; the
// supervisor restarts them and every saga still ends as its ground truth says, each event once.
import { describe, expect, it } from 'vitest';
import { injectedCount, runFault } from './driver/fault-run.js';
import { crashParticipants } from './injectors/participant-crashes.js';

describe('fault: participant crashes', () => {
  it('SIGKILLed participants (also while rejoining their group) are restarted; every saga ends as expected, no event lost or doubled', async () => {
    const report = await runFault({
      fault: 'participant-crashes',
      sagas: 200,
      rate: 8,
      inject: (ctx) => crashParticipants(ctx, { meanIntervalMs: 4000 }),
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(injectedCount(report.injected, 'sigkill')).toBeGreaterThan(0);
    expect(report.verified.outcomes.tracker).toEqual(report.verified.outcomes.expected);
  }, 600_000);
});
