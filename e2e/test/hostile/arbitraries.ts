import fc from 'fast-check';
import { isQuantity, SYMBOLS } from './oracle.ts';

// Generators shared by several categories.

export const nastyStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  '\n',
  '\r\n',
  '\t',
  '\u001b[31m',
  '\u202eevil',
  '\ufeff',
  '\ud800',
  '\udfff',
  '😀',
  '👩‍👩‍👧‍👦',
  'Ω≈ç√',
  'ＡＣＭＥ',
  'ACMÉ',
  'acme',
  'CASH',
  'ACME ',
  ' ACME',
  'ACME\u0000',
  'AAAAAAAAA',
  '../../etc/passwd',
  '..%2f..%2f',
  '%00',
  "' OR '1'='1",
  '"; DROP TABLE orders; --',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell probe, meant literally
  '${jndi:ldap://x/a}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '1e3',
  '0x10',
  'acc-alice\n',
  'acc alice',
  'acc/alice',
);

/** Strings with unicode, emoji, control characters, lone surrogates, injections; up to `longest` long. */
export const hostileText = (longest: number) =>
  fc.oneof(
    { arbitrary: nastyStrings, weight: 4 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }), weight: 2 },
    { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
    { arbitrary: fc.integer({ min: 65, max: longest }).map((n) => 'A'.repeat(n)), weight: 1 },
  );
/** For bodies (which stay under 64 KiB). */
export const hostileString = hostileText(50_000);
/** For paths and query strings: a URL stays well under node's 16 KiB header limit. */
export const hostileUrlString = hostileText(3000);

export const badQuantity = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1_000_001,
    2 ** 31,
    2 ** 53,
    2 ** 53 + 2,
    1e308,
    Number.MAX_VALUE,
    -1e308,
    0.5,
    1.5,
    999_999.99,
    1e-7,
    Number.MIN_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '1',
    '1e3',
    '',
    ' 1',
    'one',
    '0x10',
    true,
    false,
    null,
    [],
    [1],
    {},
    { value: 1 },
  ),
  fc.integer({ min: -(2 ** 31), max: 0 }),
  fc.integer({ min: 1_000_001 }),
  fc.double().filter((x) => !isQuantity(x)),
  fc.bigInt().map(String),
  hostileString,
  fc.array(fc.integer(), { maxLength: 3 }),
);

export const badValue = fc.oneof(
  hostileString,
  badQuantity,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, 0, -1, 1e308, [], {}, ['ACME'], { $ne: null }),
);

export const foreignAccount = (victim: string) =>
  fc.oneof(
    fc.constantFrom(victim, 'acc-alice', 'acc-bob', 'acc-carol', 'ACC-ALICE', victim.toUpperCase()),
    fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
  );

export const unknownSymbol = fc
  .stringMatching(/^[A-Z]{1,8}$/)
  .filter((s) => s !== 'CASH' && !SYMBOLS.includes(s));

export const json = { 'content-type': 'application/json' };
