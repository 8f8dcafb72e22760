import { HEADER, headerString } from '@troupe/core';
import { SdkError } from '../errors.js';
import type { OutboundRecord } from '../transport/transport.js';
import { durationMs, type Clock, type DurationInput } from './clock.js';
import { TIMER_HEADER, timerKey, timerRecord, timerTombstone } from './timer-record.js';
import type { TimerFirer } from './timer-service.js';

/** When a scheduled event is emitted: at a time, or after a delay from now (exactly one). */
export interface ScheduleOptions {
  /** A point in time (Date or ms since the epoch). */
  readonly at?: Date | number;
  /** A delay from now: ms, or `'15m'`-style. */
  readonly after?: DurationInput;
  /**
   * Name of the schedule within the saga, to cancel it from another handler
   * (`ctx.cancelSchedule(id)`); scheduling the same id again replaces it.
   * @default the scheduled event's id (stable across redeliveries), which `schedule` returns
   */
  readonly id?: string;
}

/** Where the handler's timers go: the participant's timer topic, the saga's partition number. */
export interface TimerTarget {
  readonly topic: string;
  readonly partition: number;
  readonly clock: Clock;
}

const ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** Key of a user schedule of a saga. */
export const scheduleKey = (sagaId: string, id: string): string => timerKey(sagaId, `schedule:${id}`);

export function timersOff(method: string): SdkError {
  return new SdkError(
    'CONFIG_INVALID',
    `ctx.${method} needs durable timers: give the participant a timer topic (Participant.create({ timers: {} }))`,
  );
}

/** The timer record that emits `event` (built as `ctx.emit` builds it) when it falls due. */
export function scheduleRecord(
  target: TimerTarget,
  event: OutboundRecord,
  sagaId: string,
  when: ScheduleOptions,
): { id: string; record: OutboundRecord } {
  const id = when.id ?? headerString(event.headers, HEADER.id) ?? '';
  if (!ID.test(id)) throw new SdkError('CONFIG_INVALID', `schedule id '${id}': use 1-200 letters, digits, '.', '_', ':' or '-'`);
  if ((when.at === undefined) === (when.after === undefined)) {
    throw new SdkError('CONFIG_INVALID', `ctx.schedule: give exactly one of at (a time) or after (a delay such as '15m')`);
  }
  const dueAt =
    when.at !== undefined
      ? typeof when.at === 'number'
        ? when.at
        : when.at.getTime()
      : target.clock.now() + durationMs(when.after ?? 0, 'ctx.schedule after');
  const record = timerRecord({
    topic: target.topic,
    partition: target.partition,
    key: scheduleKey(sagaId, id),
    sagaId,
    kind: 'event',
    dueAt,
    value: event.value,
    headers: { ...event.headers, [TIMER_HEADER.topic]: event.topic },
  });
  return { id, record };
}

/** The tombstone that cancels schedule `id` of the saga (nothing happens if it fired or never existed). */
export function cancelRecord(target: TimerTarget, sagaId: string, id: string): OutboundRecord {
  return timerTombstone(target.topic, target.partition, scheduleKey(sagaId, id));
}

/** Fires a scheduled event: the event as it was built, stamped with the firing time. */
export function scheduledEventFirer(clock: Clock): TimerFirer {
  return (timer) => {
    const topic = headerString(timer.headers, TIMER_HEADER.topic);
    if (topic === undefined) return Promise.resolve([]);
    const headers: Record<string, string | Buffer> = {};
    for (const [k, v] of Object.entries(timer.headers)) if (!k.startsWith('troupe_timer_')) headers[k] = v;
    headers[HEADER.time] = new Date(clock.now()).toISOString();
    return Promise.resolve([{ topic, key: timer.sagaId, value: timer.value, headers }]);
  };
}
