// The image's entry point: the first argument picks the component, the rest are its flags.
//   live-migration webhook|reconciler|agent [flags]
const COMPONENTS = ['webhook', 'reconciler', 'agent'] as const;
type Component = (typeof COMPONENTS)[number];

const [component, ...rest] = process.argv.slice(2);
if (!COMPONENTS.includes(component as Component)) {
  process.stderr.write(`usage: live-migration ${COMPONENTS.join('|')} [flags]\n(got ${component === undefined ? 'nothing' : JSON.stringify(component)})\n`);
  process.exit(2);
}
// Each component parses process.argv itself: present it the way a direct run would see it.
process.argv = [process.argv[0] ?? 'node', `${component}`, ...rest];
await import(`./${component}.js`);
