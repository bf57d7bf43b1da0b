import { stopControlPlane } from '../../hack/control-plane/control-plane.js';
import { readControlPlaneState } from './environment.js';

export async function stopTestControlPlane(): Promise<void> {
  await stopControlPlane(readControlPlaneState());
}
