// The Lua steps of the operations that span hash slots on a Redis Cluster (redis-cluster-steps.ts runs
// them): each script touches one slot only, so each is atomic on its shard. The layout adds to the one
// in redis-scripts.ts (`H` a session handle, `O` an owner handle):
//   {prefix}c:{<k>}        string: 'sealed id|session key' claimed by an idempotent create, PX window
//   {prefix}s:{H}:p        hash: a regenerated session staged under its new handle, not yet live:
//                          the old session's hash (its version names its content) plus _from (the
//                          old handle); PEXPIREAT the old expiry
//   {prefix}s:{H}:m        string: the new handle a regenerated session moved to, PXAT its old expiry
//   {prefix}s:{H}:g:<k>    string: 'created|sealed new id|new handle' of an idempotent regenerate, PX window
//   {prefix}o:{O}          zset: handle -> created + max lifetime (+ grace), PEXPIREAT max score. A hint:
//                          readers check each session's owner, so an entry never shows a ghost.
import { PRELUDE, type ScriptDefinition } from './redis-scripts.ts';

/**
 * claim. KEYS: 1 claim. ARGV: 1 'sealed id|session key', 2 window ms, 3 the claim this call replaces
 * ('' none). Reply {'NEW'} when ARGV[1] is now the claim, {'CLAIMED', value} when another one holds.
 */
const CLAIM = `
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[3] then return { 'CLAIMED', current } end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return { 'NEW' }
`;

/**
 * stage (new slot). KEYS: 1 new session, 2 staged. ARGV: 1 old handle, 2 PEXPIREAT, 3.. name/value
 * pairs of the old hash (meta and fields, owner and ttl already replaced). A staging of the same old
 * session is kept as it is (a retry after a crash): its version says what it holds. Reply
 * {'STAGED', version of the staged copy}, or EXISTS.
 */
const STAGE = `${PRELUDE}
local NK, NP = KEYS[1], KEYS[2]
if redis.call('EXISTS', NK) == 1 then return { 'ERR', 'EXISTS' } end
local staged = redis.call('HMGET', NP, '_from', '_v')
if staged[1] then
  if staged[1] ~= ARGV[1] then return { 'ERR', 'EXISTS' } end
  return { 'STAGED', tonumber(staged[2]) }
end
local pairs_list = { '_from', ARGV[1] }
for i = 3, #ARGV do pairs_list[#pairs_list + 1] = ARGV[i] end
write_fields(NP, pairs_list)
redis.call('PEXPIREAT', NP, ARGV[2])
return { 'STAGED', tonumber(redis.call('HGET', NP, '_v')) }
`;

/**
 * move (old slot): the commit point of a regenerate. KEYS: 1 old session, 2 old tombstone, 3 marker,
 * 4 record (or a placeholder below the old key). ARGV: 1 staged version, 2 new handle, 3 max lifetime,
 * 4 old channel, 5 idempotent '1', 6 window ms, 7 'sealed new id|new handle', 8 expected version ('' none).
 * Reply {'OK'}; NOT_FOUND <handle the session moved to, or ''>; CHANGED <current> (the session is not
 * at the staged version: that staging can never commit); or CONFLICT <current> (expected version).
 */
const MOVE = `${PRELUDE}
local K, T, M, G = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local meta = load_meta(K)
if not meta then return { 'ERR', 'NOT_FOUND', redis.call('GET', M) or '' } end
if meta.v ~= tonumber(ARGV[1]) then return { 'ERR', 'CHANGED', meta.v } end
if ARGV[8] ~= '' and tonumber(ARGV[8]) ~= meta.v then return { 'ERR', 'CONFLICT', meta.v } end
local now = now_ms()
redis.call('DEL', K)
forget(K)
tombstone(T, meta.v, tonumber(ARGV[3]))
redis.call('SET', M, ARGV[2], 'PXAT', meta.e)
if ARGV[5] == '1' then redis.call('SET', G, string.format('%d|', meta.c) .. ARGV[7], 'PX', ARGV[6]) end
publish(ARGV[4], 'd', meta.v, 0, {}, now)
return { 'OK' }
`;

/**
 * finish (new slot): makes a moved session live. KEYS: 1 new session, 2 staged, 3 new tombstone.
 * ARGV: 1 max lifetime, 2 new handle, 3 new channel. Reply: the record, or NOT_FOUND.
 */
const FINISH = `${PRELUDE}
local NK, NP, NT = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', NK) == 1 then return record_reply(NK, load_meta(NK), nil) end
local staged = redis.call('HGETALL', NP)
if #staged == 0 then return { 'ERR', 'NOT_FOUND' } end
local copy = {}
for i = 1, #staged, 2 do
  if staged[i] ~= '_from' then
    copy[#copy + 1] = staged[i]
    copy[#copy + 1] = staged[i + 1]
  end
end
write_fields(NK, copy)
redis.call('DEL', NP)
local meta = load_meta(NK)
local floor = tonumber(redis.call('GET', NT) or '0')
if floor > meta.v then meta.v = floor end
commit(NK, meta, now_ms(), meta.t, tonumber(ARGV[1]), ARGV[2], ARGV[3], {})
return record_reply(NK, meta, nil)
`;

/**
 * unstage (new slot). KEYS: 1 staged. ARGV: 1 old handle, 2 staged version. Drops a staging that can
 * never commit (its old session is past that version, or gone without moving here).
 */
const UNSTAGE = `
local staged = redis.call('HMGET', KEYS[1], '_from', '_v')
if staged[1] == ARGV[1] and staged[2] == ARGV[2] then redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * owner-add (index slot). KEYS: 1 owner index. ARGV: 1 handle, 2 ms the entry lives. Also drops
 * entries past their time. Reply 1.
 */
const OWNER_ADD = `${PRELUDE}
local O = KEYS[1]
local now = now_ms()
redis.call('ZADD', O, now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', O, '-inf', now)
local last = redis.call('ZRANGE', O, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', O, tonumber(last[2]))
return 1
`;

/** owner-list (index slot). KEYS: 1 owner index. Reply {now, handle, score, ...} of live entries. */
const OWNER_LIST = `${PRELUDE}
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = { now }
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #entries do out[#out + 1] = entries[i] end
return out
`;

/**
 * revoke-one (session slot). KEYS: 1 session, 2 tombstone. ARGV: 1 owner, 2 max lifetime, 3 channel.
 * Deletes the session when it belongs to the owner. Reply 1 revoked, 0 not.
 */
const REVOKE_ONE = `${PRELUDE}
local K = KEYS[1]
local meta = load_meta(K)
if not meta or meta.o ~= ARGV[1] then return 0 end
redis.call('DEL', K)
forget(K)
tombstone(KEYS[2], meta.v, tonumber(ARGV[2]))
publish(ARGV[3], 'd', meta.v, 0, {}, now_ms())
return 1
`;

export const CLUSTER_STEP_SCRIPTS = {
  stkClaim: { numberOfKeys: 1, lua: CLAIM },
  stkStage: { numberOfKeys: 2, lua: STAGE },
  stkMove: { numberOfKeys: 4, lua: MOVE },
  stkFinish: { numberOfKeys: 3, lua: FINISH },
  stkUnstage: { numberOfKeys: 1, lua: UNSTAGE },
  stkOwnerAdd: { numberOfKeys: 1, lua: OWNER_ADD },
  stkOwnerList: { numberOfKeys: 1, lua: OWNER_LIST },
  stkRevokeOne: { numberOfKeys: 2, lua: REVOKE_ONE },
} as const satisfies Record<string, ScriptDefinition>;

export type ClusterStepScriptName = keyof typeof CLUSTER_STEP_SCRIPTS;
