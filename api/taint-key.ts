// Kubernetes taint keys (a qualified name: an optional DNS subdomain prefix and `/`, then a name of
// at most 63 characters), as `nodeDrainTaintKey` names one. Checked with a reason a user can act on.

const NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const SUBDOMAIN = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const PREFIX_MAX = 253;

/** For JSON Schemas (RE2-safe: no look-around); the prefix length is bounded by maxLength. */
export const TAINT_KEY_PATTERN = `^(${SUBDOMAIN}/)?${NAME}$`;
export const TAINT_KEY_MAX_LENGTH = PREFIX_MAX + 1 + 63;

const nameRegExp = new RegExp(`^${NAME}$`);
const subdomainRegExp = new RegExp(`^${SUBDOMAIN}$`);

/** Why `key` is not a taint key, or undefined when it is one. */
export function taintKeyProblem(key: string): string | undefined {
  if (key.length > TAINT_KEY_MAX_LENGTH) return `is not a taint key (${key.length} characters, at most ${TAINT_KEY_MAX_LENGTH})`;
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > PREFIX_MAX || !subdomainRegExp.test(prefix))) {
    return `is not a taint key: prefix "${prefix.slice(0, 64)}" must be a DNS subdomain (lower case letters, digits, '-' and '.')`;
  }
  if (!nameRegExp.test(name)) {
    return `is not a taint key: "${name.slice(0, 64)}" must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}
