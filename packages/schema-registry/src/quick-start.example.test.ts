import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('README quick start', () => {
  it('runs and prints what the README says', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    await import('./quick-start.example.js');
    expect(lines).toEqual(['framed: magic 0, schema id 1, 15 bytes', 'decoded: o-1 1999 EUR', 'rejected: PAYLOAD_INVALID at amountCents']);
  });
});
