// Jest loads global setup outside its TypeScript transform, so the TypeScript is loaded through tsx.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startTestControlPlane } = await tsImport('./start-control-plane.ts', import.meta.url);
  await startTestControlPlane();
}
