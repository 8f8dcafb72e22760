import { createKafkaClient } from '@troupe/kafka';
import type { Admin } from 'kafkajs';
import { pino } from 'pino';

/**
 * Consumer lag per group (records between each partition's committed offset and its end, summed),
 * over the topics the group has committed offsets on. One admin client, reused until `close()`.
 */
export class LagProbe {
  private admin: Admin | undefined;

  constructor(private readonly brokers: readonly string[]) {}

  private async connected(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = createKafkaClient({ brokers: this.brokers, clientId: 'fault-lag', logger: pino({ level: 'silent' }) }).admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  async lag(groupIds: readonly string[], topics: readonly string[]): Promise<Record<string, number>> {
    const admin = await this.connected();
    const ends = new Map<string, bigint>();
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic).catch(() => [])) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
    }
    const out: Record<string, number> = {};
    for (const groupId of groupIds) {
      let lag = 0n;
      for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
        if (!t.partitions.some((p) => BigInt(p.offset) >= 0n)) continue;
        for (const p of t.partitions) {
          const end = ends.get(`${t.topic}/${p.partition}`) ?? 0n;
          const committed = BigInt(p.offset) >= 0n ? BigInt(p.offset) : 0n;
          if (end > committed) lag += end - committed;
        }
      }
      out[groupId] = Number(lag);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
    this.admin = undefined;
  }
}
