// Lua scripts of RedisSessionStore, registered with ioredis `defineCommand` (EVALSHA with a NOSCRIPT
// fallback to EVAL, so a restarted Redis reloads them by itself).
//
// Layout (see docs/architecture.md). `H` is the session handle: base64url SHA-256 of namespace and id.
//   {prefix}s:{H}          hash: meta fields _v _c _u _e _t _o _oi _b, user fields "f:<name>"
//   {prefix}s:{H}:t        string: last version of a deleted session (tombstone), PX max lifetime
//   {prefix}s:{H}:i:<k>    string: record of an idempotent mutation of this session, PX idempotency window
//   {prefix}c:<k>          string: record of an idempotent create, PX window
//   {prefix}g:<k>          string: record of an idempotent regenerate (k hashes the old handle), PX window
//   {prefix}s:{H}:r        zset: every record that produced this session (its own 'i:<k>', its
//                          create's 'c:<k>', the regenerate that moved it here 'g:<k>') -> expires_at_ms,
//                          deleted with them when the session is removed; PEXPIREAT max score.
//                          Members stay under 64 bytes, so the zset stays a compact listpack.
//   {prefix}o:{<owner>}    zset: handle -> expires_at_ms of the owner's sessions, PEXPIREAT max score
//   {prefix}w:{H}          pub/sub channel of change events (JSON {k, v, e, f, t}; t: commit time, ms)
// What a record holds and how the index removes it: redis-lua-records.ts.
// Every key a script writes gets an expiry in the same script. Time is Redis TIME, one clock for
// every sessiond instance.
//
// Replies: {'OK', version, created, updated, expires, ttl, owner, name1, value1, ...} for a record,
// {'REPLAY', [sealed id,] <the session now, as an OK reply...>} for an idempotent repeat, and
// {'ERR', kind, ...} for failures:
//   NOT_FOUND | EXISTS | CONFLICT <current> | LIMIT <limit> <size> <max> [<field>] | WRONG_TYPE <field> <op>
//   | RANGE <field> <op> stored|result. field-ops.ts words them, the same for both stores.

import { LUA_MSGPACK } from './redis-lua-codec.ts';
import { LUA_RECORDS } from './redis-lua-records.ts';

/** Number of meta fields in a session hash; HLEN minus this is the user field count. */
export const META_FIELD_COUNT = 8;

const PUBLISH_CALL = "redis.call('PUBLISH'";
const SHARDED_PUBLISH_CALL = "redis.call('SPUBLISH'";

/** Shared Lua of every script; exported for the Cluster's own scripts (redis-cluster-scripts.ts). */
export const PRELUDE = `
local MAX_SAFE = 9007199254740991
local TWO32 = 4294967296

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function load_meta(key)
  local m = redis.call('HMGET', key, '_v', '_c', '_u', '_e', '_t', '_o', '_oi', '_b')
  if not m[1] then return nil end
  return { v = tonumber(m[1]), c = tonumber(m[2]), u = tonumber(m[3]), e = tonumber(m[4]),
           t = tonumber(m[5]), o = m[6], oi = m[7], b = tonumber(m[8]) }
end

local function index_owner(oi, handle, expires, now)
  if oi == '' then return end
  redis.call('ZADD', oi, expires, handle)
  redis.call('ZREMRANGEBYSCORE', oi, '-inf', now)
  local last = redis.call('ZRANGE', oi, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', oi, tonumber(last[2])) end
end

local function publish(channel, kind, version, expires, fields, now)
  ${PUBLISH_CALL}, channel, cjson.encode({ k = kind, v = string.format('%d', version),
    e = string.format('%d', expires), f = fields, t = string.format('%d', now) }))
end

-- names: nil for every user field, else a list of names to return when present.
local function record_reply(key, meta, names)
  local out = { 'OK', meta.v, meta.c, meta.u, meta.e, meta.t, meta.o }
  if names then
    for i = 1, #names do
      local value = redis.call('HGET', key, 'f:' .. names[i])
      if value then out[#out + 1] = names[i]; out[#out + 1] = value end
    end
  else
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'f:' then
        out[#out + 1] = string.sub(all[i], 3)
        out[#out + 1] = all[i + 1]
      end
    end
  end
  return out
end

${LUA_RECORDS}
-- Bumps the version, re-arms the expiry (capped at created + max lifetime), writes meta, indexes
-- the owner and publishes the change: the tail of every mutation, so no TTL needs a second trip.
local function commit(key, meta, now, ttl, maxlife, handle, channel, changed)
  meta.v = meta.v + 1
  meta.u = now
  meta.t = ttl
  meta.e = math.min(now + ttl, meta.c + maxlife)
  redis.call('HSET', key, '_v', meta.v, '_c', meta.c, '_u', now, '_e', meta.e, '_t', ttl,
    '_o', meta.o, '_oi', meta.oi, '_b', meta.b)
  redis.call('PEXPIREAT', key, meta.e)
  index_owner(meta.oi, handle, meta.e, now)
  publish(channel, 'u', meta.v, meta.e, changed, now)
end

local function tombstone(tkey, version, maxlife)
  redis.call('SET', tkey, version, 'PX', maxlife)
end

local function check_limits(count, bytes, maxfields, maxbytes)
  if count > maxfields then return { 'ERR', 'LIMIT', 'maxFields', count, maxfields } end
  if bytes > maxbytes then return { 'ERR', 'LIMIT', 'maxSessionBytes', bytes, maxbytes } end
  return nil
end

-- Reads name/value pairs from ARGV[first..]. Returns { writes ('f:'-prefixed pairs), names, count,
-- bytes }, or nil and a LIMIT error when one value exceeds maxfield.
local function read_pairs(first, maxfield)
  local fields = { writes = {}, names = {}, count = 0, bytes = 0 }
  for i = first, #ARGV, 2 do
    local name, value = ARGV[i], ARGV[i + 1]
    if #value > maxfield then return nil, { 'ERR', 'LIMIT', 'maxFieldBytes', #value, maxfield, name } end
    fields.count = fields.count + 1
    fields.bytes = fields.bytes + #name + #value
    fields.writes[#fields.writes + 1] = 'f:' .. name
    fields.writes[#fields.writes + 1] = value
    fields.names[fields.count] = name
  end
  return fields
end

local function write_fields(key, pairs_list)
  for i = 1, #pairs_list, 500 do
    redis.call('HSET', key, unpack(pairs_list, i, math.min(i + 499, #pairs_list)))
  end
end
`;

/**
 * create. KEYS: 1 session, 2 tombstone, 3 create-idempotency (or any placeholder when unused; on a
 * Cluster a record below the session key). ARGV: 1 ttl_ms, 2 max_lifetime_ms, 3 owner, 4 owner index
 * key ('' none), 5 handle, 6 idempotency: '0' off, '1' on, '2' on and a repeat of a Cluster claim,
 * 7 idem window ms, 8 maxFields, 9 maxSessionBytes, 10 maxFieldBytes, 11 sealed id (kept only in the
 * idempotency record), 12 channel, 13.. name/value pairs.
 */
const CREATE = `${PRELUDE}
local K, T, I = KEYS[1], KEYS[2], KEYS[3]
if ARGV[6] ~= '0' then
  local had = ARGV[6] == '2' and redis.call('EXISTS', I) == 1
  local r = replay(I, K)
  if r then return r end
  -- A repeat (Cluster: the id came from an earlier attempt's claim) of a create whose session is
  -- gone since (deleted, revoked, expired): never bring that id back.
  if ARGV[6] == '2' and (had or redis.call('EXISTS', T) == 1) then return { 'ERR', 'GONE' } end
end
if redis.call('EXISTS', K) == 1 then return { 'ERR', 'EXISTS' } end
forget(K)
local now = now_ms()
local ttl, maxlife = tonumber(ARGV[1]), tonumber(ARGV[2])
local fields, too_big = read_pairs(13, tonumber(ARGV[10]))
if not fields then return too_big end
local over = check_limits(fields.count, fields.bytes, tonumber(ARGV[8]), tonumber(ARGV[9]))
if over then return over end
local meta = { v = tonumber(redis.call('GET', T) or '0'), c = now, o = ARGV[3], oi = ARGV[4], b = fields.bytes }
if fields.count > 0 then write_fields(K, fields.writes) end
commit(K, meta, now, ttl, maxlife, ARGV[5], ARGV[12], fields.names)
local reply = record_reply(K, meta, nil)
if ARGV[6] ~= '0' then remember(I, K, meta, tonumber(ARGV[7]), now, K, ARGV[11]) end
return reply
`;

/** get-slide. KEYS: 1 session. ARGV: 1 max_lifetime_ms, 2 handle, 3.. field names (none: all). */
const GET_SLIDE = `${PRELUDE}
local K = KEYS[1]
local meta = load_meta(K)
if not meta then return { 'ERR', 'NOT_FOUND' } end
local now = now_ms()
meta.e = math.min(now + meta.t, meta.c + tonumber(ARGV[1]))
redis.call('HSET', K, '_e', meta.e)
redis.call('PEXPIREAT', K, meta.e)
index_owner(meta.oi, ARGV[2], meta.e, now)
local names = nil
if #ARGV > 2 then
  names = {}
  for i = 3, #ARGV do names[#names + 1] = ARGV[i] end
end
return record_reply(K, meta, names)
`;

/** head (Track's re-check). KEYS: 1 session. Reply {now, version, expires}, or {now} when missing. */
const HEAD = `${PRELUDE}
local m = redis.call('HMGET', KEYS[1], '_v', '_e')
if not m[1] then return { now_ms() } end
return { now_ms(), tonumber(m[1]), tonumber(m[2]) }
`;

/** touch. KEYS: 1 session. ARGV: 1 ttl_ms (0: own ttl), 2 max_lifetime_ms, 3 handle. Reply {'OK', v, e}. */
const TOUCH = `${PRELUDE}
local K = KEYS[1]
local meta = load_meta(K)
if not meta then return { 'ERR', 'NOT_FOUND' } end
local now = now_ms()
local ttl = tonumber(ARGV[1])
if ttl == 0 then ttl = meta.t end
meta.e = math.min(now + ttl, meta.c + tonumber(ARGV[2]))
redis.call('HSET', K, '_e', meta.e)
redis.call('PEXPIREAT', K, meta.e)
index_owner(meta.oi, ARGV[3], meta.e, now)
return { 'OK', meta.v, meta.e }
`;

// Shared head of put/patch: replay, load, version check. ARGV 1 expected ('' none), 2 ttl (0: own),
// 3 max lifetime, 4 handle, 5 channel, 6 idem on '1', 7 window, 8 maxFields, 9 maxSessionBytes,
// 10 maxFieldBytes.
const MUTATION_HEAD = `
local K, I = KEYS[1], KEYS[2]
if ARGV[6] == '1' then
  local r = replay(I, K)
  if r then return r end
end
local meta = load_meta(K)
if not meta then return { 'ERR', 'NOT_FOUND' } end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= meta.v then return { 'ERR', 'CONFLICT', meta.v } end
local now = now_ms()
local ttl = tonumber(ARGV[2])
if ttl == 0 then ttl = meta.t end
local maxfields, maxbytes, maxfield = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
`;

const MUTATION_TAIL = `
commit(K, meta, now, ttl, tonumber(ARGV[3]), ARGV[4], ARGV[5], changed)
local reply = record_reply(K, meta, nil)
if ARGV[6] == '1' then remember(I, K, meta, tonumber(ARGV[7]), now) end
return reply
`;

/** put. KEYS: 1 session, 2 idempotency. ARGV: the mutation head (1-10), then 11.. name/value pairs. */
const PUT = `${PRELUDE}${MUTATION_HEAD}
local fields, too_big = read_pairs(11, maxfield)
if not fields then return too_big end
local over = check_limits(fields.count, fields.bytes, maxfields, maxbytes)
if over then return over end
local changed, seen = {}, {}
for i = 1, fields.count do
  changed[i] = fields.names[i]
  seen[fields.names[i]] = true
end
local existing = redis.call('HKEYS', K)
for i = 1, #existing do
  local f = existing[i]
  if string.sub(f, 1, 2) == 'f:' then
    redis.call('HDEL', K, f)
    local name = string.sub(f, 3)
    if not seen[name] then changed[#changed + 1] = name end
  end
end
if fields.count > 0 then write_fields(K, fields.writes) end
meta.b = fields.bytes
${MUTATION_TAIL}`;

/**
 * patch. KEYS: 1 session, 2 idempotency. ARGV: the mutation head (1-10), then triples from 11:
 * op ('s' set | 'd' delete | 'i' increment int | 'f' increment float | 'a' append), field, argument.
 */
const PATCH = `${PRELUDE}${LUA_MSGPACK}
${MUTATION_HEAD}
local OP_NAMES = { i = 'incrementInt', f = 'incrementFloat', a = 'append' }
local cur, orig, changed = {}, {}, {}
for i = 11, #ARGV, 3 do
  local op, f, arg = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if cur[f] == nil then
    cur[f] = redis.call('HGET', K, 'f:' .. f)
    orig[f] = cur[f]
    changed[#changed + 1] = f
  end
  local value = cur[f]
  if op == 's' then
    value = arg
  elseif op == 'd' then
    value = false
  elseif op == 'i' or op == 'f' then
    local kind, n = 'int', 0
    if value then kind, n = decode_number(value) end
    if kind == 'range' then return { 'ERR', 'RANGE', f, OP_NAMES[op], 'stored' } end
    if kind == 'nan' or (op == 'i' and kind ~= 'int') then return { 'ERR', 'WRONG_TYPE', f, OP_NAMES[op] } end
    local sum = n + tonumber(arg)
    if op == 'i' then
      if sum > MAX_SAFE or sum < -MAX_SAFE then return { 'ERR', 'RANGE', f, OP_NAMES[op], 'result' } end
      value = encode_int(sum)
    else
      value = '\\203' .. struct.pack('>d', sum)
    end
  elseif op == 'a' then
    value = append_array(value or nil, arg)
    if not value then return { 'ERR', 'WRONG_TYPE', f, OP_NAMES[op] } end
  end
  cur[f] = value
end
local count, bytes = redis.call('HLEN', K) - ${META_FIELD_COUNT}, meta.b
local writes, deletes = {}, {}
for _, f in ipairs(changed) do
  local old, new = orig[f], cur[f]
  if old then count = count - 1; bytes = bytes - #f - #old end
  if new then
    if #new > maxfield then return { 'ERR', 'LIMIT', 'maxFieldBytes', #new, maxfield, f } end
    count = count + 1
    bytes = bytes + #f + #new
    writes[#writes + 1] = 'f:' .. f
    writes[#writes + 1] = new
  elseif old then
    deletes[#deletes + 1] = 'f:' .. f
  end
end
local over = check_limits(count, bytes, maxfields, maxbytes)
if over then return over end
if #writes > 0 then write_fields(K, writes) end
for i = 1, #deletes do redis.call('HDEL', K, deletes[i]) end
meta.b = bytes
${MUTATION_TAIL}`;

/**
 * delete. KEYS: 1 session, 2 tombstone. ARGV: 1 expected ('' none), 2 max lifetime, 3 handle,
 * 4 channel. Deletes the session's idempotency records too. Reply {'OK', 1, owner} | {'OK', 0} or a
 * CONFLICT error.
 */
const DELETE = `${PRELUDE}
local K, T = KEYS[1], KEYS[2]
local meta = load_meta(K)
if not meta then return { 'OK', 0 } end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= meta.v then return { 'ERR', 'CONFLICT', meta.v } end
redis.call('DEL', K)
forget(K)
tombstone(T, meta.v, tonumber(ARGV[2]))
if meta.oi ~= '' then redis.call('ZREM', meta.oi, ARGV[3]) end
publish(ARGV[4], 'd', meta.v, 0, {}, now_ms())
return { 'OK', 1, meta.o }
`;

/**
 * regenerate. KEYS: 1 old session, 2 idempotency ({prefix}g:<k>), 3 old tombstone, 4 new session, 5 new
 * tombstone. ARGV: the mutation head (1-10; 4 is the NEW handle, 5 the NEW channel), 11 old handle,
 * 12 old channel, 13 new owner ('' keep), 14 new owner index key, 15 sealed new id (kept only in
 * the idempotency record, which is listed in the new session's index).
 */
const REGENERATE = `${PRELUDE}${MUTATION_HEAD}
local NK, OT, NT = KEYS[4], KEYS[3], KEYS[5]
if redis.call('EXISTS', NK) == 1 then return { 'ERR', 'EXISTS' } end
local old_version = meta.v
local floor = tonumber(redis.call('GET', NT) or '0')
if floor > meta.v then meta.v = floor end
redis.call('RENAME', K, NK)
forget(K)
forget(NK)
tombstone(OT, old_version, tonumber(ARGV[3]))
if meta.oi ~= '' then redis.call('ZREM', meta.oi, ARGV[11]) end
if ARGV[13] ~= '' then
  meta.o = ARGV[13]
  meta.oi = ARGV[14]
end
publish(ARGV[12], 'd', old_version, 0, {}, now)
K = NK
local changed = {}
commit(K, meta, now, ttl, tonumber(ARGV[3]), ARGV[4], ARGV[5], changed)
local reply = record_reply(K, meta, nil)
if ARGV[6] == '1' then remember(I, K, meta, tonumber(ARGV[7]), now, K, ARGV[15]) end
return reply
`;

/**
 * list-owner. KEYS: 1 owner index. ARGV: 1 key prefix. Drops expired and vanished entries.
 * Reply: flat {handle, version, created, updated, expires, ...}.
 */
const LIST_OWNER = `${PRELUDE}
local O = KEYS[1]
redis.call('ZREMRANGEBYSCORE', O, '-inf', now_ms())
local handles = redis.call('ZRANGE', O, 0, -1)
local out = {}
for i = 1, #handles do
  local h = handles[i]
  local m = redis.call('HMGET', ARGV[1] .. 's:{' .. h .. '}', '_v', '_c', '_u', '_e')
  if m[1] then
    out[#out + 1] = h
    out[#out + 1] = tonumber(m[1])
    out[#out + 1] = tonumber(m[2])
    out[#out + 1] = tonumber(m[3])
    out[#out + 1] = tonumber(m[4])
  else
    redis.call('ZREM', O, h)
  end
end
return out
`;

/**
 * revoke-owner. KEYS: 1 owner index. ARGV: 1 key prefix, 2 max lifetime, 3.. handles (none: all).
 * Deletes the sessions and their idempotency records, leaves tombstones, publishes 'd'. Reply: number revoked.
 */
const REVOKE_OWNER = `${PRELUDE}
local O = KEYS[1]
local targets = {}
if #ARGV > 2 then
  for i = 3, #ARGV do
    if redis.call('ZSCORE', O, ARGV[i]) then targets[#targets + 1] = ARGV[i] end
  end
else
  targets = redis.call('ZRANGE', O, 0, -1)
end
local revoked = 0
local now = now_ms()
for i = 1, #targets do
  local h = targets[i]
  local key = ARGV[1] .. 's:{' .. h .. '}'
  local v = redis.call('HGET', key, '_v')
  if v then
    redis.call('DEL', key)
    forget(key)
    tombstone(key .. ':t', tonumber(v), tonumber(ARGV[2]))
    publish(ARGV[1] .. 'w:{' .. h .. '}', 'd', tonumber(v), 0, {}, now)
    revoked = revoked + 1
  end
  redis.call('ZREM', O, h)
end
return revoked
`;

/** Script name -> definition, for `redis.defineCommand(name, definition)`. */
const STANDALONE_SCRIPTS = {
  stkCreate: { numberOfKeys: 3, lua: CREATE },
  stkGetSlide: { numberOfKeys: 1, lua: GET_SLIDE },
  stkTouch: { numberOfKeys: 1, lua: TOUCH },
  stkHead: { numberOfKeys: 1, lua: HEAD },
  stkPut: { numberOfKeys: 2, lua: PUT },
  stkPatch: { numberOfKeys: 2, lua: PATCH },
  stkDelete: { numberOfKeys: 2, lua: DELETE },
  stkRegenerate: { numberOfKeys: 5, lua: REGENERATE },
  stkListOwner: { numberOfKeys: 1, lua: LIST_OWNER },
  stkRevokeOwner: { numberOfKeys: 1, lua: REVOKE_OWNER },
} as const;

export type SessionScriptName = keyof typeof STANDALONE_SCRIPTS;
export type ScriptDefinition = { numberOfKeys: number; lua: string };

/**
 * The scripts for a standalone (or Sentinel) Redis, or for a Cluster: there every change event goes
 * out with SPUBLISH (sharded pub/sub, Redis >= 7), on the shard that holds the session.
 */
export function sessionScripts(cluster: boolean): Readonly<Record<SessionScriptName, ScriptDefinition>> {
  if (!cluster) return STANDALONE_SCRIPTS;
  return Object.fromEntries(Object.entries(STANDALONE_SCRIPTS).map(([name, definition]) => [name, shardedScript(definition)])) as Record<SessionScriptName, ScriptDefinition>;
}

/** A script whose change events go out with SPUBLISH instead of PUBLISH. */
export function shardedScript(definition: ScriptDefinition): ScriptDefinition {
  return { numberOfKeys: definition.numberOfKeys, lua: definition.lua.replace(PUBLISH_CALL, SHARDED_PUBLISH_CALL) };
}
