// Kubernetes label key and value syntax (apimachinery's validation.IsQualifiedName and
// IsValidLabelValue), so a bad addedNodeSelector is refused at apply time rather than leaving the
// migration unschedulable.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label key is invalid, or undefined when it is valid. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a label key has at most one "/" (prefix/name)';
  const [prefix, name] = parts.length === 2 ? [parts[0] as string, parts[1] as string] : [undefined, parts[0] as string];
  if (prefix !== undefined) {
    if (prefix === '') return 'the prefix before "/" must not be empty';
    if (prefix.length > 253) return 'the prefix must be at most 253 characters';
    if (!DNS_SUBDOMAIN.test(prefix)) return 'the prefix must be a DNS subdomain (lower-case letters, digits, "-" and ".")';
  }
  if (name === '') return 'the name part must not be empty';
  if (name.length > 63) return 'the name part must be at most 63 characters';
  if (!NAME.test(name)) {
    return 'the name part must consist of letters, digits, "-", "_" or ".", and start and end with a letter or digit';
  }
  return undefined;
}

/** Why a label value is invalid, or undefined when it is valid (the empty value is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'a label value must be at most 63 characters';
  if (!NAME.test(value)) {
    return 'a label value must consist of letters, digits, "-", "_" or ".", and start and end with a letter or digit';
  }
  return undefined;
}
