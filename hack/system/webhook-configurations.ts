// The webhook configurations of a local system: the webhook process registered by URL and
// caBundle, with failurePolicy Fail; the same webhooks as the chart's (templates/_helpers.tpl).
import type { KubernetesObject } from '@kubernetes/client-node';
import { NOT_EXTERNAL_VMI, reconcilerUpdatesExempt, VMI_OPERATIONS, VMIM_OPERATIONS } from '../../webhook/registration.js';
import type { LocalSystemOptions } from './local-system.js';

export function webhookConfigurations(options: Pick<LocalSystemOptions, 'webhook' | 'namespace' | 'configLocation'>, port: number, caBundle: string, reconcilerUsername: string): KubernetesObject[] {
  const suffix = options.webhook?.suffix ?? 'local';
  const url = (path: string) => `https://127.0.0.1:${port}${path}`;
  const namespaceSelector = options.webhook?.namespaceSelector ?? {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', options.namespace] }],
  };
  const common = { admissionReviewVersions: ['v1'], sideEffects: 'None', timeoutSeconds: 5, namespaceSelector };
  const vmimRule = (operations: readonly string[]) => ({
    apiGroups: ['kubevirt.io'],
    apiVersions: ['v1', 'v1alpha3'],
    resources: ['virtualmachineinstancemigrations'],
    operations,
    scope: 'Namespaced',
  });
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: `live-migration-${suffix}` },
      webhooks: [
        {
          ...common,
          failurePolicy: 'Fail',
          name: `mutate.vmim.${suffix}.live-migration.io`,
          clientConfig: { url: url('/mutate-migration'), caBundle },
          rules: [vmimRule(VMIM_OPERATIONS.mutate)],
          matchConditions: [reconcilerUpdatesExempt(reconcilerUsername)],
        },
      ],
    } as KubernetesObject,
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: `live-migration-${suffix}` },
      webhooks: [
        {
          ...common,
          failurePolicy: 'Fail',
          name: `validate.vmim.${suffix}.live-migration.io`,
          clientConfig: { url: url('/validate-migration'), caBundle },
          rules: [vmimRule(VMIM_OPERATIONS.validate)],
          matchConditions: [reconcilerUpdatesExempt(reconcilerUsername)],
        },
        {
          ...common,
          failurePolicy: 'Fail',
          name: `validate.vmi.${suffix}.live-migration.io`,
          clientConfig: { url: url('/validate-vmi'), caBundle },
          rules: [{ apiGroups: ['kubevirt.io'], apiVersions: ['v1', 'v1alpha3'], resources: ['virtualmachineinstances'], operations: VMI_OPERATIONS.validate, scope: 'Namespaced' }],
          matchConditions: [NOT_EXTERNAL_VMI],
        },
        {
          ...common,
          failurePolicy: 'Fail',
          name: `validate.config.${suffix}.live-migration.io`,
          clientConfig: { url: url('/validate-config'), caBundle },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }],
          matchConditions: [{ name: 'only-kubevirt-config', expression: `object.metadata.namespace == '${options.configLocation.namespace}' && object.metadata.name == '${options.configLocation.name}'` }],
        },
      ],
    } as KubernetesObject,
  ];
}
