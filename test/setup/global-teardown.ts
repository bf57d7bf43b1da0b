import { stopControlPlane } from '../../hack/control-plane/control-plane.js';
import { readControlPlaneState } from './environment.js';

export default async function globalTeardown(): Promise<void> {
  await stopControlPlane(readControlPlaneState());
}
