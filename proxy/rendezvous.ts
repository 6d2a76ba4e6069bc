// Weighted rendezvous (highest random weight) hashing for affinity keys that are not our cookie:
// a request header or an application session cookie. Every instance ranks a pool's members the
// same way for the same key, and adding or removing a member only moves the keys that ranked it
// first (about 1/n of them), which is why it is preferred to modulo hashing.

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** murmur3 finalizer: spreads the combined key/member hash over all 32 bits. */
function mix(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface RendezvousMember {
  readonly id: string;
  readonly weight: number;
  /** hashString(id), computed once per member. */
  readonly idHash: number;
}

/** Score of `member` for a key: -weight / ln(u), u uniform in (0, 1). Higher wins. */
export function rendezvousScore(keyHash: number, member: RendezvousMember): number {
  const u = (mix(keyHash ^ member.idHash ^ Math.imul(member.idHash, 0x9e3779b1)) + 0.5) / 4294967296;
  return -member.weight / Math.log(u);
}

/** The highest-scoring member for `keyHash` that passes `accept`, or undefined. */
export function rendezvousPick<T extends RendezvousMember>(keyHash: number, members: readonly T[], accept?: (member: T) => boolean): T | undefined {
  let best: T | undefined;
  let bestScore = -1;
  for (const member of members) {
    if (accept !== undefined && !accept(member)) continue;
    const score = rendezvousScore(keyHash, member);
    if (score > bestScore || (score === bestScore && best !== undefined && member.id < best.id)) {
      best = member;
      bestScore = score;
    }
  }
  return best;
}
