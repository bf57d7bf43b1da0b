// Kubernetes resource quantities ("64Mi", "1Gi", "500M", "1.5Gi", "2e6") parsed exactly.
// Arithmetic is done on BigInt fractions so "1.1Gi" is not rounded through a float.

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

// Same grammar as k8s.io/apimachinery's resource.Quantity: sign, digits with optional fraction,
// then a binary suffix, a decimal suffix or a decimal exponent.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** The pattern the JSON Schemas use, so the CRD, the webhook and values.schema.json agree. */
export const QUANTITY_PATTERN = '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\\d+)?$';

export class QuantityError extends Error {}

/** An exact rational value: numerator / denominator, denominator > 0. */
interface Fraction {
  numerator: bigint;
  denominator: bigint;
}

function parseFraction(input: string): Fraction {
  const match = QUANTITY.exec(input.trim());
  if (!match) {
    throw new QuantityError(
      `"${input}" is not a Kubernetes quantity (expected a number with an optional suffix such as Ki, Mi, Gi, k, M, G)`,
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
    throw new QuantityError(`"${input}" is not a whole number of bytes`);
  }
  const value = numerator / denominator;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(`"${input}" is too large`);
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
