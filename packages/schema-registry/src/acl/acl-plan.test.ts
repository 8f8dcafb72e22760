import { describe, expect, it } from 'vitest';
import type { SagaContract } from '@troupe/core';
import { planAcls, renderAclCommands } from './acl-plan.js';

const contract: SagaContract = {
  saga: 'order',
  start: 'o.Placed',
  initiator: 'orders-svc',
  steps: [
    { name: 'pay', participant: 'pay-svc', completed: 'p.Charged', failed: 'p.Declined', compensated: 'p.Refunded' },
    { name: 'ship', participant: 'ship-svc', completed: 's.Shipped', failed: 's.Failed' },
  ],
  end: { completed: 'o.Done', aborted: 'o.Cancelled' },
};
const events = [
  { name: 'o.Placed', topic: 'orders' },
  { name: 'o.Done', topic: 'orders' },
  { name: 'o.Cancelled', topic: 'orders' },
  { name: 'p.Charged', topic: 'payments' },
  { name: 'p.Declined', topic: 'payments' },
  { name: 'p.Refunded', topic: 'payments' },
  { name: 's.Shipped', topic: 'shipping' },
  { name: 's.Failed', topic: 'shipping' },
];

describe('planAcls', () => {
  const plans = planAcls([contract], events);
  const of = (service: string) => plans.find((p) => p.service === service);

  it('derives reads and writes from the choreography', () => {
    expect(of('pay-svc')).toMatchObject({ reads: ['orders', 'shipping'], writes: ['orders.dlq', 'payments', 'shipping.dlq'] });
    expect(of('ship-svc')).toMatchObject({ reads: ['orders', 'payments'], writes: ['orders.dlq', 'payments.dlq', 'shipping'] });
    expect(of('orders-svc')).toMatchObject({ reads: ['payments', 'shipping'], writes: ['orders', 'payments.dlq', 'shipping.dlq'] });
    expect(of('publisher')).toMatchObject({ role: 'publisher', reads: [], writes: ['orders'] });
    expect(of('troupe-tracker')?.reads).toEqual(['orders', 'orders.dlq', 'payments', 'payments.dlq', 'shipping', 'shipping.dlq']);
  });

  it('reads every branch for a join, and a sibling branch’s failure for a compensation', () => {
    const parallel: SagaContract = {
      ...contract,
      steps: [
        { ...contract.steps[0]!, parallel: 'reserve' },
        { name: 'stock', participant: 'stock-svc', completed: 'i.Reserved', failed: 'i.Failed', parallel: 'reserve' },
        contract.steps[1]!,
      ],
    };
    const more = [...events, { name: 'i.Reserved', topic: 'inventory' }, { name: 'i.Failed', topic: 'inventory' }];
    const p = planAcls([parallel], more);
    const at = (service: string) => p.find((x) => x.service === service)?.reads;
    expect(at('ship-svc')).toEqual(['inventory', 'orders', 'payments']);
    expect(at('pay-svc')).toEqual(['inventory', 'orders', 'shipping']);
    expect(at('stock-svc')).toEqual(['orders']);
  });

  it('grants the group, the transactional-id prefix and idempotent write', () => {
    const acls = of('ship-svc')?.acls ?? [];
    expect(acls.filter((a) => a.resourceType !== 'TOPIC')).toEqual([
      {
        principal: 'User:ship-svc',
        resourceType: 'GROUP',
        resourceName: 'ship-svc',
        patternType: 'LITERAL',
        operation: 'READ',
        host: '*',
        permission: 'ALLOW',
      },
      {
        principal: 'User:ship-svc',
        resourceType: 'GROUP',
        resourceName: 'troupe-reader-',
        patternType: 'PREFIXED',
        operation: 'READ',
        host: '*',
        permission: 'ALLOW',
      },
      {
        principal: 'User:ship-svc',
        resourceType: 'TRANSACTIONAL_ID',
        resourceName: 'troupe-ship-svc-',
        patternType: 'PREFIXED',
        operation: 'WRITE',
        host: '*',
        permission: 'ALLOW',
      },
      {
        principal: 'User:ship-svc',
        resourceType: 'TRANSACTIONAL_ID',
        resourceName: 'troupe-ship-svc-',
        patternType: 'PREFIXED',
        operation: 'DESCRIBE',
        host: '*',
        permission: 'ALLOW',
      },
      {
        principal: 'User:ship-svc',
        resourceType: 'CLUSTER',
        resourceName: 'kafka-cluster',
        patternType: 'LITERAL',
        operation: 'IDEMPOTENT_WRITE',
        host: '*',
        permission: 'ALLOW',
      },
    ]);
    expect(of('troupe-tracker')?.acls.every((a) => a.operation === 'READ' || a.operation === 'DESCRIBE')).toBe(true);
  });

  it('grants each participant its inbox topic (read back on assignment, written in its transactions), unless it runs without one', () => {
    const inbox = (plan: ReturnType<typeof planAcls>) =>
      plan
        .find((p) => p.service === 'ship-svc')
        ?.acls.filter((a) => a.resourceName === 'ship-svc.inbox')
        .map((a) => a.operation)
        .sort();
    expect(inbox(plans)).toEqual(['CREATE', 'DESCRIBE', 'READ', 'WRITE']);
    expect(inbox(planAcls([contract], events, { inbox: false }))).toEqual([]);
  });

  it('grants CREATE only with auto-create, and the retry topic only where enabled', () => {
    expect(plans.flatMap((p) => p.acls).some((a) => a.operation === 'CREATE')).toBe(true);
    const noCreate = planAcls([contract], events, { autoCreate: false, retryTopic: ['pay-svc'] });
    expect(noCreate.flatMap((p) => p.acls).some((a) => a.operation === 'CREATE')).toBe(false);
    const pay = noCreate.find((p) => p.service === 'pay-svc')?.acls ?? [];
    expect(pay.filter((a) => a.resourceName === 'pay-svc.retry').map((a) => a.operation)).toEqual(['READ', 'WRITE', 'DESCRIBE']);
    expect(pay).toContainEqual(expect.objectContaining({ resourceType: 'GROUP', resourceName: 'troupe-reader-', patternType: 'PREFIXED' }));
  });

  it('grants the initiator of a contract that acts on time its timer and control topics, and operators the control topic', () => {
    const timed: SagaContract = { ...contract, steps: [contract.steps[0]!, { ...contract.steps[1]!, withinMs: 5000, onTimeout: 'abort' }] };
    const p = planAcls([timed], events);
    const opsOn = (service: string, topic: string) =>
      p
        .find((x) => x.service === service)
        ?.acls.filter((a) => a.resourceName === topic)
        .map((a) => a.operation);
    expect(opsOn('orders-svc', 'orders-svc.timers')).toEqual(['READ', 'WRITE', 'CREATE', 'DESCRIBE']);
    expect(opsOn('orders-svc', 'order.control')).toEqual(['READ', 'WRITE', 'CREATE', 'DESCRIBE']);
    // Its saga clock follows every event of the saga, its own start and end events too.
    expect(p.find((x) => x.service === 'orders-svc')?.reads).toEqual([
      'order.control',
      'orders',
      'orders-svc.timers',
      'payments',
      'shipping',
    ]);
    expect(p.find((x) => x.service === 'orders-svc')?.acls).toContainEqual(
      expect.objectContaining({ resourceType: 'GROUP', resourceName: 'troupe-reader-', patternType: 'PREFIXED' }),
    );
    // Nobody else gets them; troupe-saga abort's principal gets the control topic and nothing else to write.
    expect(opsOn('pay-svc', 'orders-svc.timers')).toEqual([]);
    expect(p.find((x) => x.service === 'troupe-operator')).toMatchObject({
      role: 'operator',
      reads: ['order.control'],
      writes: ['order.control'],
    });
    expect(opsOn('troupe-operator', 'order.control')).toEqual(['READ', 'WRITE', 'DESCRIBE']);
    // A report-only contract implies no timers and no operator.
    expect(plans.some((x) => x.role === 'operator' || x.acls.some((a) => a.resourceName.endsWith('.timers')))).toBe(false);
    // ctx.schedule in a step's participant, named with --timers.
    expect(
      planAcls([contract], events, { timers: ['pay-svc'] })
        .find((x) => x.service === 'pay-svc')
        ?.acls.filter((a) => a.resourceName === 'pay-svc.timers')
        .map((a) => a.operation),
    ).toEqual(['READ', 'WRITE', 'CREATE', 'DESCRIBE']);
    expect(() => planAcls([contract], events, { timers: ['nobody'] })).toThrow(/--timers nobody: nobody is no participant/);
  });

  it('adds reads of on(...) handlers and refuses unknown participants', () => {
    expect(planAcls([contract], events, { extraReads: { 'ship-svc': ['audit'] } }).find((p) => p.service === 'ship-svc')?.reads).toContain(
      'audit',
    );
    expect(() => planAcls([contract], events, { extraReads: { nobody: ['x'] } })).toThrow(/nobody is no participant/);
    expect(() => planAcls([contract], events.slice(1))).toThrow(/o\.Placed .* no schema/);
  });

  it('renders kafka-acls.sh commands, operations grouped per resource', () => {
    const lines = renderAclCommands(plans.filter((p) => p.service === 'publisher'));
    expect(lines).toEqual([
      '# publisher (publisher): reads -; writes orders',
      'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config admin.properties --add --allow-principal User:publisher --operation Write --operation Create --operation Describe --topic orders',
      'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config admin.properties --add --allow-principal User:publisher --operation IdempotentWrite --cluster',
    ]);
  });
});
