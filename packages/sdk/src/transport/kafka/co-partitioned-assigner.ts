import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Assigns partition *numbers*, not topic-partitions: the member that gets number p gets partition p
 * of every subscribed topic. A saga's events sit on the same partition number of every saga topic
 * (same key, same count), so one instance sees all of a saga's events — which the retry topic's
 * per-saga ordering relies on. Numbers are dealt round-robin over the sorted member ids.
 */
export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'TroupeCoPartitionedAssigner',
  version: 0,
  assign({ members, topics }) {
    const sorted = members.map((m) => m.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(sorted.map((id) => [id, {}]));
    for (const topic of topics) {
      for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
        const owner = sorted[partitionId % sorted.length];
        const forMember = owner === undefined ? undefined : assignment.get(owner);
        if (forMember) (forMember[topic] ??= []).push(partitionId);
      }
    }
    return Promise.resolve(
      [...assignment].map(([memberId, a]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: a, userData: Buffer.alloc(0) }),
      })),
    );
  },
  protocol({ topics }) {
    return {
      name: 'TroupeCoPartitionedAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
