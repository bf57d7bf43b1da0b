import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown() {
  const { stopTestControlPlane } = await tsImport('./stop-control-plane.ts', import.meta.url);
  await stopTestControlPlane();
}
