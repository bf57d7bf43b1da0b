// Kubernetes resource quantities ("64Mi", "1Gi", "500M", "1.5Gi", "2e6") parsed exactly.
// Arithmetic is done on BigInt fractions so "1.1Gi" is not rounded through a float.
//
// Bounded before any arithmetic: at most 64 characters and a decimal exponent of at most 18 either
// way. Without a bound "1e300000000" costs a 10^300000000 BigInt and stalls the event loop of
// whoever parses it (webhook, reconciler, agent). Nothing useful is lost: every value we parse is
// bytes or bytes/s and must fit in an int64 (9.2e18) anyway, Kubernetes' own largest suffix is
// E (10^18), and 64 characters hold any int64 in any of its spellings.

const BINARY_SUFFIXES: Record<string, bigint> = {
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};

// Decimal SI suffixes as powers of ten.
const DECIMAL_EXPONENTS: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** Longest quantity accepted, in characters (the schemas' maxLength too). */
export const QUANTITY_MAX_LENGTH = 64;
/** Largest decimal exponent accepted either way: 1e18 = 1E, the largest decimal suffix. */
export const QUANTITY_MAX_EXPONENT = 18;

// Same grammar as k8s.io/apimachinery's resource.Quantity: sign, digits with optional fraction,
// then a binary suffix, a decimal suffix or a decimal exponent (here at most two digits, ≤ 18).
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d{1,2})?$/;

/**
 * The pattern the JSON Schemas use, so the CRD, the webhook and values.schema.json agree. No
 * look-ahead (the API server checks CRD patterns with Go's RE2): the exponent is bounded here to
 * two digits, its value ≤ 18 by the parser, and the length by the schema's maxLength.
 */
export const QUANTITY_PATTERN = '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?(1[0-8]|0?[0-9]))?$';

export class QuantityError extends Error {}

/** An exact rational value: numerator / denominator, denominator > 0. */
interface Fraction {
  numerator: bigint;
  denominator: bigint;
}

/** The input as shown in messages: never more than the longest valid quantity and a bit. */
function shown(input: string): string {
  return JSON.stringify(input.length > QUANTITY_MAX_LENGTH ? `${input.slice(0, QUANTITY_MAX_LENGTH)}…` : input);
}

function parseFraction(input: string): Fraction {
  // Checked before the regular expression and before any BigInt is built.
  if (input.length > QUANTITY_MAX_LENGTH) {
    throw new QuantityError(`${shown(input)} is too long for a quantity (${input.length} characters, at most ${QUANTITY_MAX_LENGTH})`);
  }
  const match = QUANTITY.exec(input.trim());
  if (!match) {
    const exponent = /[eE][+-]?\d{3,}$/.test(input.trim());
    throw new QuantityError(
      exponent
        ? `${shown(input)} has a decimal exponent beyond ±${QUANTITY_MAX_EXPONENT}`
        : `${shown(input)} is not a Kubernetes quantity (expected a number with an optional suffix such as Ki, Mi, Gi, k, M, G)`,
    );
  }
  const [, sign = '', digits = '', suffix = ''] = match;
  const [whole = '', fraction = ''] = digits.split('.');
  let numerator = BigInt((whole || '0') + fraction);
  let denominator = 10n ** BigInt(fraction.length);
  if (suffix in BINARY_SUFFIXES) {
    numerator *= BINARY_SUFFIXES[suffix] as bigint;
  } else {
    const exponent = /^[eE]/.test(suffix) ? Number(suffix.slice(1)) : (DECIMAL_EXPONENTS[suffix] ?? 0);
    if (Math.abs(exponent) > QUANTITY_MAX_EXPONENT) {
      throw new QuantityError(`${shown(input)} has a decimal exponent beyond ±${QUANTITY_MAX_EXPONENT}`);
    }
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
    else denominator *= 10n ** BigInt(-exponent);
  }
  if (sign === '-') numerator = -numerator;
  return { numerator, denominator };
}

/**
 * Parses a quantity into a whole number of units (bytes, for memory and bandwidth).
 * Numbers are accepted as they are, since YAML turns `bandwidthPerMigration: 67108864` into one.
 * Fractions of a unit and values beyond Number.MAX_SAFE_INTEGER are errors, not roundings.
 */
export function parseQuantity(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input)) throw new QuantityError(`${input} is not a whole number`);
    return input;
  }
  const { numerator, denominator } = parseFraction(input);
  if (numerator % denominator !== 0n) {
    throw new QuantityError(`${shown(input)} is not a whole number of bytes`);
  }
  const value = numerator / denominator;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(`${shown(input)} is too large`);
  }
  return Number(value);
}

const BINARY_UNITS: Array<[string, number]> = [
  ['Ei', 1024 ** 6],
  ['Pi', 1024 ** 5],
  ['Ti', 1024 ** 4],
  ['Gi', 1024 ** 3],
  ['Mi', 1024 ** 2],
  ['Ki', 1024],
];

/** The shortest exact binary-suffixed form: 67108864 → "64Mi", 1000 → "1000". */
export function formatBinaryQuantity(bytes: number): string {
  for (const [suffix, size] of BINARY_UNITS) {
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}
