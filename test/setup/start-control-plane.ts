// Starts one real control plane for the whole integration run; test files read its kubeconfig
// from the environment and each uses a namespace of its own.
import { writeFileSync } from 'node:fs';
import { startControlPlane } from '../../hack/control-plane/control-plane.js';
import { STATE_ENV } from './environment.js';

export async function startTestControlPlane(): Promise<void> {
  const state = await startControlPlane({ ownerPid: process.pid });
  const stateFile = `${state.workDir}/state.json`;
  writeFileSync(stateFile, JSON.stringify(state));
  process.env[STATE_ENV] = stateFile;
  process.env.KUBECONFIG = state.kubeconfig;
  process.stderr.write(
    `\n[integration] control plane ready at ${state.server} in ${state.timings.totalMs} ms ` +
      `(binaries ${state.timings.binariesMs}, certs ${state.timings.pkiMs}, etcd ${state.timings.etcdMs}, ` +
      `apiserver ${state.timings.apiserverMs}, CRDs ${state.timings.crdsMs})\n`,
  );
}
