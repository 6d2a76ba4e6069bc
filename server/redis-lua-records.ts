// The idempotency records of the Redis scripts (redis-scripts.ts), in Lua: replay, remember, forget.
// A record is 'version|created|sealed id|session key': the version the call produced and the
// created time of its session (so a record never answers for another life of the id), and for create
// and regenerate the id they produced, sealed by the caller (TypeScript, idempotent-id.ts), and the
// key of that session (last, as a key prefix may hold '|'). No record holds a field value or a raw id.
//
// Each session lists the records that produced it in its index {prefix}s:{H}:r (zset member ->
// expires_at_ms), and every removal of the session (delete, revoke, regenerate's old id, a new life
// of an expired id) forgets them in the same script. Index members stay under 64 bytes (zset listpack
// limit): 'i:<k>' below the session key, else the record key without the prefix ('c:<k>', 'g:<k>').

/** Lua source defining replay, remember and forget. Needs load_meta and record_reply (the prelude). */
export const LUA_RECORDS = `
-- The answer to a repeat of a remembered call: {'REPLAY', [sealed id,] the session as it is now}, or
-- nil when there is no record or the session it produced is gone or is another incarnation (then the
-- record goes too and the call runs as a new one).
local function replay(ikey, session_key)
  -- pcall: a record of an earlier sessiond (a list holding the whole reply) is dropped, not an error.
  local stored = redis.pcall('GET', ikey)
  if type(stored) ~= 'string' then
    if type(stored) == 'table' then redis.call('DEL', ikey) end
    return nil
  end
  local v, c, sealed, target = string.match(stored, '^(%d+)|(%d+)|([^|]*)|(.*)$')
  if target and target ~= '' then session_key = target end
  local meta = v and load_meta(session_key)
  if not meta or meta.c ~= tonumber(c) or meta.v < tonumber(v) then
    redis.call('DEL', ikey)
    return nil
  end
  local out = { 'REPLAY' }
  if sealed ~= '' then out[2] = sealed end
  local now = record_reply(session_key, meta, nil)
  for i = 1, #now do out[#out + 1] = now[i] end
  return out
end

-- A record key as its session's index lists it: 'i:<k>' below the session key, else the key without
-- the key prefix ('c:<k>', 'g:<k>'); and back.
local function key_prefix(session_key)
  return string.match(session_key, '^(.*)s:{[^}]*}$')
end

local function index_member(session_key, ikey)
  if string.sub(ikey, 1, #session_key + 1) == session_key .. ':' then return string.sub(ikey, #session_key + 2) end
  return string.sub(ikey, #key_prefix(session_key) + 1)
end

local function record_key(session_key, member)
  if string.sub(member, 1, 2) == 'i:' then return session_key .. ':' .. member end
  return key_prefix(session_key) .. member
end

-- Records a successful call for the window and lists it in the index of the session it produced.
local function remember(ikey, session_key, meta, window, now, target, sealed)
  local index = session_key .. ':r'
  redis.call('SET', ikey, string.format('%d|%d|%s|%s', meta.v, meta.c, sealed or '', target or ''), 'PX', window)
  redis.call('ZADD', index, now + window, index_member(session_key, ikey))
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, tonumber(last[2]))
end

-- Removes every idempotency record of a session: delete, revoke, regenerate's old id, and a new
-- session under an id whose earlier incarnation expired.
local function forget(session_key)
  local index = session_key .. ':r'
  local members = redis.call('ZRANGE', index, 0, -1)
  for i = 1, #members do redis.call('DEL', record_key(session_key, members[i])) end
  redis.call('DEL', index)
end
`;
