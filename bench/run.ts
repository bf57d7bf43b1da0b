// `npm run bench -- <name>`: runs one benchmark. Add an entry here for a new one.
const BENCHMARKS: Record<string, () => Promise<void>> = {
  webhook: async () => (await import('./webhook.js')).main(),
  libvirt: async () => (await import('./libvirt.js')).main(),
  scale: async () => (await import('./scale.js')).main(),
  chaos: async () => (await import('./chaos.js')).main(),
  memory: async () => (await import('./memory.js')).main(),
  drain: async () => (await import('./drain.js')).main(),
  vm: async () => (await import('./vm.js')).main(),
};

const name = process.argv[2];
const run = name === undefined ? undefined : BENCHMARKS[name];
if (run === undefined) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}>\n`);
  process.exit(2);
}
await run();
