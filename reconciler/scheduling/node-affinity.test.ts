import { matchesRequiredAffinity } from './node-affinity.js';

const node = { name: 'node-a', labels: { zone: 'east', gen: '3' } };
const spec = (terms: unknown) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });

describe('required node affinity', () => {
  it('matches when there is none', () => {
    expect(matchesRequiredAffinity({}, node)).toBe(true);
    expect(matchesRequiredAffinity(undefined, node)).toBe(true);
  });

  it('needs every expression of one term (terms are ORed)', () => {
    const both = spec([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['east'] }, { key: 'gpu', operator: 'Exists' }] }]);
    expect(matchesRequiredAffinity(both, node)).toBe(false);
    const either = spec([{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['west'] }] }]);
    expect(matchesRequiredAffinity(either, node)).toBe(true);
  });

  it('knows every operator and matchFields on metadata.name', () => {
    const one = (e: Record<string, unknown>) => spec([{ matchExpressions: [e] }]);
    expect(matchesRequiredAffinity(one({ key: 'gpu', operator: 'DoesNotExist' }), node)).toBe(true);
    expect(matchesRequiredAffinity(one({ key: 'gen', operator: 'Gt', values: ['2'] }), node)).toBe(true);
    expect(matchesRequiredAffinity(one({ key: 'gen', operator: 'Lt', values: ['2'] }), node)).toBe(false);
    expect(matchesRequiredAffinity(spec([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-b'] }] }]), node)).toBe(false);
    expect(matchesRequiredAffinity(spec([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }] }]), node)).toBe(true);
  });

  it('reads anything malformed as matching no node', () => {
    expect(matchesRequiredAffinity(spec([{}]), node)).toBe(false);
    expect(matchesRequiredAffinity(spec([{ matchExpressions: [{ key: 'zone', operator: 'Near', values: ['east'] }] }]), node)).toBe(false);
    expect(matchesRequiredAffinity({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: 'x' } } }, node)).toBe(false);
  });
});
