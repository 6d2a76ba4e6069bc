import test from 'ava';
import { addExtension, FLOAT32_OPTIONS, pack, Packr, unpack } from 'msgpackr';
import {
  appendToMsgpackArray,
  checkMsgpackValue,
  decodeMsgpackNumber,
  encodeMsgpackFloat,
  encodeMsgpackInt,
  MAX_SAFE_COUNTER,
  MAX_VALUE_DEPTH,
} from '../../server/codec.ts';

// An application-defined extension type, so msgpackr produces every ext width (fixext 1..16, ext 8/16/32):
// all of them are refused (issue 7: only the timestamp extension is a value every client can read).
class Opaque {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}
addExtension({ Class: Opaque, type: 42, pack: (value: Opaque) => value.bytes, unpack: (bytes: Uint8Array) => new Opaque(bytes) });

const float32 = new Packr({ useFloat32: FLOAT32_OPTIONS.ALWAYS });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const mapOf = (n: number) => new Map(range(n).map((i) => [`k${i}`, i]));

/** Valid values of every MessagePack type and width, as msgpackr encodes them. */
const VALID: Array<[string, Uint8Array]> = [
  ['nil', pack(null)],
  ['false', pack(false)],
  ['true', pack(true)],
  ...[0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1].map((n): [string, Uint8Array] => [`uint ${n}`, pack(n)]),
  ...[-1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31)].map((n): [string, Uint8Array] => [`int ${n}`, pack(n)]),
  ['uint64', pack(2n ** 63n)],
  ['int64', pack(-(2n ** 62n))],
  ['float32', float32.pack(1.5)],
  ['float64', pack(0.1)],
  ['fixstr empty', pack('')],
  ['fixstr 31', pack('x'.repeat(31))],
  ['str8', pack('x'.repeat(32))],
  ['str16', pack('é'.repeat(200))],
  ['str32', pack('x'.repeat(70_000))],
  ['bin8 empty', pack(Buffer.alloc(0))],
  ['bin8', pack(Buffer.alloc(255, 1))],
  ['bin16', pack(Buffer.alloc(256, 2))],
  ['bin32', pack(Buffer.alloc(70_000, 3))],
  ['fixarray empty', pack([])],
  ['fixarray 15', pack(range(15))],
  ['array16', pack(range(16))],
  ['array32', pack(range(70_000))],
  ['nested', pack([{ a: [1, [2, [3, { b: null }]]] }, 'z', [[[]]]])],
  ['fixmap empty', pack(new Map())],
  ['fixmap 15', pack(mapOf(15))],
  ['map16', pack(mapOf(16))],
  ['map32', pack(mapOf(70_000))],
  ['object (map16)', pack({ a: 1, b: 'two', c: [3] })],
  ['timestamp 32', pack(new Date(1_700_000_000_000))],
  ['timestamp 64', pack(new Date(1_700_000_000_123))],
  ['timestamp 96', pack(new Date(-1))],
];

test('checkMsgpackValue accepts one value of every type and width', (t) => {
  const typeBytes = new Set<number>();
  for (const [name, bytes] of VALID) {
    t.is(checkMsgpackValue(bytes), undefined, name);
    typeBytes.add(bytes[0]!);
  }
  // Every type byte from 0xc0 to 0xdf except the reserved 0xc1 and the extension widths no timestamp
  // uses (fixext 1/2/16, ext 16/32), plus each fix range, is covered above.
  const missing = range(0x20).map((i) => 0xc0 + i).filter((b) => ![0xc1, 0xd4, 0xd5, 0xd8, 0xc8, 0xc9].includes(b) && !typeBytes.has(b));
  t.deepEqual(missing.map((b) => b.toString(16)), []);
  for (const [low, high] of [[0x00, 0x7f], [0x80, 0x8f], [0x90, 0x9f], [0xa0, 0xbf], [0xe0, 0xff]] as const) {
    t.true([...typeBytes].some((b) => b >= low && b <= high), `range ${low.toString(16)}..${high.toString(16)}`);
  }
});

test('checkMsgpackValue accepts values inside a larger buffer (non-zero byteOffset)', (t) => {
  const inner = pack({ list: range(20), s: 'x'.repeat(40) });
  const outer = new Uint8Array(inner.length + 10);
  outer.set(inner, 5);
  t.is(checkMsgpackValue(outer.subarray(5, 5 + inner.length)), undefined);
  t.is(checkMsgpackValue(outer.subarray(5, 4 + inner.length)), 'truncated');
});

test('checkMsgpackValue reports every truncation as truncated', (t) => {
  for (const [name, bytes] of VALID) {
    if (bytes.length > 300) {
      for (const cut of [1, 2, 3, 5, bytes.length - 1]) t.is(checkMsgpackValue(bytes.subarray(0, cut)), 'truncated', `${name} cut at ${cut}`);
      continue;
    }
    for (let cut = 1; cut < bytes.length; cut++) t.is(checkMsgpackValue(bytes.subarray(0, cut)), 'truncated', `${name} cut at ${cut}`);
  }
  // Headers promising more than is there.
  t.is(checkMsgpackValue(Uint8Array.of(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61)), 'truncated');
  t.is(checkMsgpackValue(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02)), 'truncated');
  t.is(checkMsgpackValue(Uint8Array.of(0xdf, 0x00, 0x00, 0x00, 0x02, 0xa1, 0x61, 0x02)), 'truncated');
  t.is(checkMsgpackValue(Uint8Array.of(0xc9, 0x00, 0x00, 0x00, 0x01, 0x2a)), 'truncated');
});

test('checkMsgpackValue reports empty input, trailing bytes and the reserved byte 0xc1', (t) => {
  t.is(checkMsgpackValue(new Uint8Array(0)), 'empty');
  for (const [name, bytes] of VALID.filter(([, b]) => b.length < 1000)) {
    t.is(checkMsgpackValue(concat(bytes, Uint8Array.of(0xc0))), 'trailing bytes', name);
  }
  t.is(checkMsgpackValue(concat(pack(1), pack('two'))), 'trailing bytes');
  t.is(checkMsgpackValue(Uint8Array.of(0xc1)), 'reserved byte 0xc1');
  t.is(checkMsgpackValue(Uint8Array.of(0x92, 0x01, 0xc1)), 'reserved byte 0xc1');
  t.is(checkMsgpackValue(Uint8Array.of(0x81, 0xc1, 0x01)), 'reserved byte 0xc1');
  t.is(checkMsgpackValue(Uint8Array.of(0x81, 0xa1, 0x61, 0xc1)), 'reserved byte 0xc1');
  // 0xc1 inside a binary or timestamp payload is data, not a type byte (in a str it is not UTF-8).
  t.is(checkMsgpackValue(Uint8Array.of(0xa1, 0xc1)), 'a string that is not valid UTF-8 at byte 1');
  t.is(checkMsgpackValue(Uint8Array.of(0xc4, 0x01, 0xc1)), undefined);
  t.is(checkMsgpackValue(Uint8Array.of(0xd6, 0xff, 0xc1, 0xc1, 0xc1, 0xc1)), undefined);
});

test('issue 7: checkMsgpackValue refuses every extension type but the timestamp, in every width', (t) => {
  for (const n of [1, 2, 4, 8, 16, 3, 255, 256, 70_000]) {
    t.is(checkMsgpackValue(pack(new Opaque(new Uint8Array(n)))), 'extension type 42 (only the timestamp extension -1 is allowed)', `ext of ${n} bytes`);
  }
  t.is(checkMsgpackValue(Uint8Array.of(0xd4, 0x05, 0x01)), 'extension type 5 (only the timestamp extension -1 is allowed)');
  t.is(checkMsgpackValue(Uint8Array.of(0x92, 0x01, 0xd4, 0x80, 0x00)), 'extension type -128 (only the timestamp extension -1 is allowed)');
  // Timestamps of a width other than 4, 8, 12 data bytes, or with 10^9 nanoseconds or more.
  t.is(checkMsgpackValue(Uint8Array.of(0xd4, 0xff, 0x00)), 'a timestamp extension of 1 data bytes (expected 4, 8 or 12)');
  t.is(checkMsgpackValue(concat(Uint8Array.of(0xd8, 0xff), new Uint8Array(16))), 'a timestamp extension of 16 data bytes (expected 4, 8 or 12)');
  t.is(checkMsgpackValue(concat(Uint8Array.of(0xd7, 0xff), fromHex('ee6b280000000000'))), 'a timestamp with 1000000000 nanoseconds (at most 999999999)');
  t.is(checkMsgpackValue(concat(Uint8Array.of(0xc7, 12, 0xff), fromHex('3b9aca00'), new Uint8Array(8))), 'a timestamp with 1000000000 nanoseconds (at most 999999999)');
  t.is(checkMsgpackValue(concat(Uint8Array.of(0xd7, 0xff), fromHex('ee6b27fc00000000'))), undefined, '999999999 ns');
});

test('issue 7: checkMsgpackValue limits nesting to MAX_VALUE_DEPTH without recursion', (t) => {
  const nested = (depth: number, leaf = 0xc0): Uint8Array => concat(new Uint8Array(depth).fill(0x91), Uint8Array.of(leaf));
  t.is(MAX_VALUE_DEPTH, 64);
  t.is(checkMsgpackValue(nested(64)), undefined);
  t.is(checkMsgpackValue(nested(65)), 'nesting deeper than 64 levels');
  t.is(checkMsgpackValue(nested(60_000)), 'nesting deeper than 64 levels');
  t.is(checkMsgpackValue(nested(63, 0x90)), undefined, 'an empty array at depth 64');
  t.is(checkMsgpackValue(nested(64, 0x80)), 'nesting deeper than 64 levels', 'an empty map at depth 65');
  t.is(checkMsgpackValue(nested(10), 9), 'nesting deeper than 9 levels');
  // Maps count as levels too, and siblings do not add up.
  let deepMap: unknown = 1;
  for (let i = 0; i < 64; i++) deepMap = { k: deepMap, s: 'x', n: i };
  t.is(checkMsgpackValue(pack(deepMap)), undefined);
  t.is(checkMsgpackValue(pack({ k: deepMap })), 'nesting deeper than 64 levels');
  t.is(checkMsgpackValue(pack(range(1000).map(() => [[[[1]]]]))), undefined);
});

test('issue 7: checkMsgpackValue wants str map keys and valid UTF-8 strings', (t) => {
  t.is(checkMsgpackValue(Uint8Array.of(0x81, 0x01, 0x02)), 'map key of type integer (map keys must be strings)');
  t.is(checkMsgpackValue(Uint8Array.of(0x81, 0x90, 0x02)), 'map key of type array (map keys must be strings)');
  t.is(checkMsgpackValue(Uint8Array.of(0x81, 0xc4, 0x00, 0x02)), 'map key of type bin (map keys must be strings)');
  t.is(checkMsgpackValue(Uint8Array.of(0x82, 0xa1, 0x61, 0x01, 0xc0, 0x02)), 'map key of type nil (map keys must be strings)', 'the second key');
  t.is(checkMsgpackValue(Uint8Array.of(0x81, 0xa1, 0x61, 0x81, 0xa1, 0x62, 0x01)), undefined, 'a str key, a map value');
  t.is(checkMsgpackValue(Uint8Array.of(0xa2, 0xff, 0xfe)), 'a string that is not valid UTF-8 at byte 1');
  t.is(checkMsgpackValue(Uint8Array.of(0x91, 0xd9, 0x01, 0xc3)), 'a string that is not valid UTF-8 at byte 3');
  t.is(checkMsgpackValue(Uint8Array.of(0xc4, 0x02, 0xff, 0xfe)), undefined, 'bin may hold any bytes');
});

test('decodeMsgpackNumber decodes every integer width as int', (t) => {
  const cases = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31)];
  for (const n of cases) {
    const bytes = pack(n);
    t.deepEqual(decodeMsgpackNumber(bytes), { kind: 'int', value: n }, `${n} as ${hex(bytes)}`);
  }
  const wide: Array<[string, number]> = [
    ['cf001fffffffffffff', MAX_SAFE_COUNTER],
    ['cf0000000100000000', 2 ** 32],
    ['d3ffe0000000000001', -MAX_SAFE_COUNTER],
    ['d3ffffffff7fffffff', -(2 ** 31) - 1],
    ['d30000000000000005', 5],
    ['ce00000005', 5],
    ['d2fffffffe', -2],
  ];
  for (const [bytes, value] of wide) {
    t.deepEqual(decodeMsgpackNumber(fromHex(bytes)), { kind: 'int', value }, bytes);
    t.is(Number(unpack(fromHex(bytes))), value, `msgpackr agrees on ${bytes}`);
  }
});

test('decodeMsgpackNumber reports 64-bit integers beyond +/-(2^53 - 1) as out-of-range', (t) => {
  for (const bytes of ['cf0020000000000000', 'cfffffffffffffffff', 'd3ffe0000000000000', 'd38000000000000000']) {
    t.deepEqual(decodeMsgpackNumber(fromHex(bytes)), { kind: 'out-of-range' }, bytes);
  }
});

test('decodeMsgpackNumber decodes float32 and float64 as float', (t) => {
  t.deepEqual(decodeMsgpackNumber(float32.pack(1.5)), { kind: 'float', value: 1.5 });
  t.deepEqual(decodeMsgpackNumber(pack(0.1)), { kind: 'float', value: 0.1 });
  t.deepEqual(decodeMsgpackNumber(pack(2 ** 40)), { kind: 'float', value: 2 ** 40 }); // msgpackr writes big ints as float64
  t.deepEqual(decodeMsgpackNumber(encodeMsgpackFloat(3)), { kind: 'float', value: 3 });
});

test('decodeMsgpackNumber rejects non-numbers and numbers with missing or extra bytes', (t) => {
  const notNumbers = [new Uint8Array(0), pack(null), pack(true), pack('1'), pack([1]), pack({ a: 1 }), pack(Buffer.from([1]))];
  for (const bytes of notNumbers) t.deepEqual(decodeMsgpackNumber(bytes), { kind: 'not-a-number' }, hex(bytes));
  for (const bytes of ['cc', 'cd00', 'ce000000', 'cf00000000000000', 'd0', 'd1ff', 'd2000000', 'd300000000000000', 'd00000', 'ca0000', 'cb00000000000000', '0101', 'ff00', 'cc0101']) {
    t.deepEqual(decodeMsgpackNumber(fromHex(bytes)), { kind: 'not-a-number' }, bytes);
  }
});

test('decodeMsgpackNumber reads through a non-zero byteOffset', (t) => {
  const outer = fromHex('00cd1234ff');
  t.deepEqual(decodeMsgpackNumber(outer.subarray(1, 4)), { kind: 'int', value: 0x1234 });
});

test('encodeMsgpackInt picks the smallest form at every boundary and round-trips through msgpackr', (t) => {
  const cases: Array<[number, number]> = [
    [0, 1], [127, 1], [128, 2], [255, 2], [256, 3], [65535, 3], [65536, 5], [2 ** 32 - 1, 5], [2 ** 32, 9], [MAX_SAFE_COUNTER, 9],
    [-1, 1], [-32, 1], [-33, 2], [-128, 2], [-129, 3], [-32768, 3], [-32769, 5], [-(2 ** 31), 5], [-(2 ** 31) - 1, 9], [-MAX_SAFE_COUNTER, 9],
  ];
  for (const [value, length] of cases) {
    const bytes = encodeMsgpackInt(value);
    t.is(bytes.length, length, `${value} -> ${hex(bytes)}`);
    t.is(Number(unpack(bytes)), value, `${value} -> ${hex(bytes)}`);
    t.deepEqual(decodeMsgpackNumber(bytes), { kind: 'int', value });
    t.is(checkMsgpackValue(bytes), undefined);
    // Below 2^32 msgpackr also writes the smallest form, so the bytes agree exactly.
    if (Math.abs(value) < 2 ** 31) t.is(hex(bytes), hex(pack(value)), `${value}`);
  }
});

test('encodeMsgpackFloat always writes a float64 that round-trips', (t) => {
  for (const value of [0, 1, -1.25, 0.1, 1e300, -Number.MAX_VALUE]) {
    const bytes = encodeMsgpackFloat(value);
    t.is(bytes.length, 9);
    t.is(bytes[0], 0xcb);
    t.is(unpack(bytes), value);
  }
});

test('appendToMsgpackArray starts a new array from undefined and extends fixarrays', (t) => {
  const one = appendToMsgpackArray(undefined, pack('a'))!;
  t.deepEqual(unpack(one), ['a']);
  t.is(hex(one), hex(pack(['a'])));
  const two = appendToMsgpackArray(one, pack({ b: [1] }))!;
  t.deepEqual(unpack(two), ['a', { b: [1] }]);
  t.is(checkMsgpackValue(two), undefined);
  t.deepEqual(unpack(appendToMsgpackArray(pack([]), pack([]))!), [[]]);
});

test('appendToMsgpackArray crosses the 15 -> 16 and 65535 -> 65536 header boundaries', (t) => {
  for (const [count, before, after] of [[14, 0x9e, 0x9f], [15, 0x9f, 0xdc], [16, 0xdc, 0xdc], [65534, 0xdc, 0xdc], [65535, 0xdc, 0xdd], [65536, 0xdd, 0xdd]] as const) {
    const array = pack(range(count));
    t.is(array[0], before, `header of ${count}`);
    const next = appendToMsgpackArray(array, pack('end'))!;
    t.is(next[0], after, `header of ${count + 1}`);
    t.is(checkMsgpackValue(next), undefined);
    const decoded = unpack(next) as unknown[];
    t.is(decoded.length, count + 1);
    t.is(decoded[count], 'end');
    t.is(decoded[count - 1], count - 1);
    if (count + 1 !== 65536) t.is(hex(next), hex(pack([...range(count), 'end'])), `same bytes as msgpackr for ${count + 1}`);
  }
});

test('appendToMsgpackArray accepts arrays inside a larger buffer and oversized headers', (t) => {
  const outer = concat(Uint8Array.of(0xff), pack([1, 2]), Uint8Array.of(0xff));
  t.deepEqual(unpack(appendToMsgpackArray(outer.subarray(1, 4), pack(3))!), [1, 2, 3]);
  // An array16 header holding a small count is valid MessagePack; the result uses the smallest header.
  const wide = fromHex('dc00020102');
  t.deepEqual(unpack(appendToMsgpackArray(wide, pack(3))!), [1, 2, 3]);
  t.deepEqual(unpack(appendToMsgpackArray(fromHex('dd000000020102'), pack(3))!), [1, 2, 3]);
});

test('appendToMsgpackArray returns undefined for anything that is not an array', (t) => {
  const notArrays = [new Uint8Array(0), pack(null), pack(1), pack('list'), pack({ a: 1 }), pack(new Map([[1, 2]])), pack(Buffer.from([0x91])), fromHex('dc00'), fromHex('dd000000')];
  for (const bytes of notArrays) t.is(appendToMsgpackArray(bytes, pack(1)), undefined, hex(bytes));
});

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
