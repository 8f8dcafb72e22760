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
