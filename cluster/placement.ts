import { fnv1a32 } from '../core/index.js';

/**
 * Desired placement of partitions over live members by rendezvous (highest random weight) hashing: each partition
 * goes to the member with the highest score(member, partition). A member that joins takes exactly the partitions
 * where it scores highest, from whoever had them; a member that leaves gives up only its own, each to the member
 * scoring next, so every other partition stays where it is.
 *
 * Every member must compute the same placement, whatever its version, so the score is written here and pinned by
 * test vectors: 32-bit FNV-1a of `<member id>\n<partition>` (UTF-8), then MurmurHash3's 32-bit finalizer (fmix32),
 * which spreads FNV's weak low bits so that similar ids (b0, b1, ...) still get independent scores. Ties, which
 * 32 bits make rare, go to the lower member id.
 */

/** MurmurHash3's fmix32: every input bit affects every output bit. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The rendezvous score of a member for a partition, an unsigned 32-bit integer. */
export function placementScore(memberId: string, partition: number): number {
  return fmix32(fnv1a32(`${memberId}\n${partition}`));
}

/** The member a partition belongs on: the highest score, ties to the lower id; undefined without members. */
export function placeOwner(partition: number, memberIds: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const id of memberIds) {
    const score = placementScore(id, partition);
    if (score > bestScore || (score === bestScore && best !== undefined && id < best)) {
      best = id;
      bestScore = score;
    }
  }
  return best;
}

/** The desired owner of each partition 0 .. partitions - 1 (index = partition); empty without members. */
export function placement(partitions: number, memberIds: readonly string[]): string[] {
  if (memberIds.length === 0) return [];
  const owners: string[] = [];
  for (let p = 0; p < partitions; p++) owners.push(placeOwner(p, memberIds) ?? '');
  return owners;
}
