// The image's entry point: the first argument picks the component, the rest are its flags.
//   live-migration webhook|reconciler|agent [flags]     live-migration --help
const COMPONENTS = {
  webhook: 'the admission webhook',
  reconciler: 'the controllers: queue under limits, dispatch, timeouts, cancel',
  agent: 'the node agent (simulation or libvirt driver)',
} as const;
type Component = keyof typeof COMPONENTS;

const USAGE = `VM live migration control for Kubernetes, with KubeVirt's API.

Usage: live-migration COMPONENT [flags]

Components:
${Object.entries(COMPONENTS)
  .map(([name, what]) => `  ${name.padEnd(12)}${what}`)
  .join('\n')}

Run 'live-migration COMPONENT --help' for its flags.
`;

const [component, ...rest] = process.argv.slice(2);
if (component === '--help' || component === '-h' || component === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (component === undefined || !Object.hasOwn(COMPONENTS, component)) {
  process.stderr.write(`live-migration: ${component === undefined ? 'no component given' : `unknown component ${JSON.stringify(component)}`}\n\n${USAGE}`);
  process.exit(2);
}
// Each component parses process.argv itself: present it the way a direct run would see it.
process.argv = [process.argv[0] ?? 'node', component, ...rest];
await import(`./${component satisfies string as Component}.js`);
