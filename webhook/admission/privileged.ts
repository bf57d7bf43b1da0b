// Who may set the fields reserved to admins and to the system itself (spec.migrationConfiguration):
// the system's own service account and members of the configured groups (default system:masters,
// so the admin kubeconfig keeps working). Everyone else tunes migrations through MigrationPolicy.
import type { UserInfo } from './types.js';

export const DEFAULT_PRIVILEGED_GROUPS: readonly string[] = ['system:masters'];

export interface PrivilegedIdentities {
  systemServiceAccount: string;
  privilegedGroups: readonly string[];
}

export function isPrivileged(user: UserInfo, identities: PrivilegedIdentities): boolean {
  if (user.username !== undefined && user.username === identities.systemServiceAccount) return true;
  return (user.groups ?? []).some((group) => identities.privilegedGroups.includes(group));
}
