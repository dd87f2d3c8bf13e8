import type { AppendInput } from '../../core/index.js';

/** One partition's inputs of a call, with their indexes in the call. */
export interface PartitionGroup {
  readonly partition: number;
  readonly inputs: AppendInput[];
  readonly indexes: number[];
}

/** A call's inputs by partition: `single` when they all fall in one (the common case: no copy is made). */
export interface Parts {
  readonly single: number | undefined;
  readonly groups: readonly PartitionGroup[];
}

/**
 * Groups inputs by the partition `route` gives their subject (in order of first appearance, each group in input
 * order). `route` throws for a subject this process may not write (NotOwnerError): then nothing is grouped.
 */
export function splitByPartition(inputs: readonly AppendInput[], route: (subject: string) => number): Parts {
  const first = inputs[0];
  if (first === undefined) return { single: undefined, groups: [] };
  const partitionOfFirst = route(first.subject);
  const partitions = inputs.map((input, i) => (i === 0 ? partitionOfFirst : route(input.subject)));
  if (partitions.every((p) => p === partitionOfFirst)) return { single: partitionOfFirst, groups: [] };
  const groups = new Map<number, PartitionGroup>();
  partitions.forEach((partition, index) => {
    let group = groups.get(partition);
    if (group === undefined) {
      group = { partition, inputs: [], indexes: [] };
      groups.set(partition, group);
    }
    group.inputs.push(inputs[index] as AppendInput);
    group.indexes.push(index);
  });
  return { single: undefined, groups: [...groups.values()] };
}
