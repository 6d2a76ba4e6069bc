// The MessagePack rules of server/codec.ts in Lua, for the patch script: decode a number, encode an
// integer in its smallest form (floats are always float64, '\203' .. struct.pack('>d', x)), and
// append one encoded element to an encoded array by rewriting only its header. Redis's Lua has no
// 64-bit integers, so 64-bit values are read as two 32-bit halves and limited to +/-(2^53 - 1).
// test/contract/session-store.ts holds both implementations to the same bytes and results.

/** Lua source defining decode_number(s), encode_int(v) and append_array(arr, elem). Needs MAX_SAFE and TWO32. */
export const LUA_MSGPACK = `
local function decode_number(s)
  local b, n = string.byte(s, 1), #s
  if not b then return 'nan' end
  if n == 1 and b <= 0x7f then return 'int', b end
  if n == 1 and b >= 0xe0 then return 'int', b - 256 end
  if n == 5 and b == 0xca then return 'float', (struct.unpack('>f', s, 2)) end
  if n == 9 and b == 0xcb then return 'float', (struct.unpack('>d', s, 2)) end
  if n == 2 and b == 0xcc then return 'int', (struct.unpack('>B', s, 2)) end
  if n == 3 and b == 0xcd then return 'int', (struct.unpack('>H', s, 2)) end
  if n == 5 and b == 0xce then return 'int', (struct.unpack('>I4', s, 2)) end
  if n == 2 and b == 0xd0 then return 'int', (struct.unpack('>b', s, 2)) end
  if n == 3 and b == 0xd1 then return 'int', (struct.unpack('>h', s, 2)) end
  if n == 5 and b == 0xd2 then return 'int', (struct.unpack('>i4', s, 2)) end
  if n == 9 and (b == 0xcf or b == 0xd3) then
    local hi, lo = struct.unpack('>I4I4', s, 2)
    if b == 0xd3 and hi >= 2147483648 then hi = hi - TWO32 end
    local v = hi * TWO32 + lo
    if v > MAX_SAFE or v < -MAX_SAFE then return 'range' end
    return 'int', v
  end
  return 'nan'
end

local function encode_int(v)
  if v >= 0 then
    if v < 128 then return string.char(v) end
    if v < 256 then return '\\204' .. string.char(v) end
    if v < 65536 then return '\\205' .. struct.pack('>H', v) end
    if v < TWO32 then return '\\206' .. struct.pack('>I4', v) end
    return '\\207' .. struct.pack('>I4I4', math.floor(v / TWO32), v % TWO32)
  end
  if v >= -32 then return string.char(256 + v) end
  if v >= -128 then return '\\208' .. struct.pack('>b', v) end
  if v >= -32768 then return '\\209' .. struct.pack('>h', v) end
  if v >= -2147483648 then return '\\210' .. struct.pack('>i4', v) end
  local hi = math.floor(v / TWO32)
  return '\\211' .. struct.pack('>i4I4', hi, v - hi * TWO32)
end

local function append_array(arr, elem)
  local count, hl = 0, 0
  if arr then
    local b = string.byte(arr, 1)
    if b and b >= 0x90 and b <= 0x9f then count, hl = b - 0x90, 1
    elseif b == 0xdc and #arr >= 3 then count, hl = (struct.unpack('>H', arr, 2)), 3
    elseif b == 0xdd and #arr >= 5 then count, hl = (struct.unpack('>I4', arr, 2)), 5
    else return nil end
  end
  local n = count + 1
  local header
  if n <= 15 then header = string.char(0x90 + n)
  elseif n <= 65535 then header = '\\220' .. struct.pack('>H', n)
  else header = '\\221' .. struct.pack('>I4', n) end
  local body = ''
  if arr then body = string.sub(arr, hl + 1) end
  return header .. body .. elem
end
`;
