// Command-line flags of the component processes: one table per component gives both the parser
// (node:util parseArgs, strict) and the text `--help` prints, so the usage cannot drift from what
// is accepted. `--help`/`-h` prints it and exits 0; a flag the table lacks, a missing value or a
// stray argument exits 2 with a message naming it (no stack trace).
import { parseArgs } from 'node:util';

export interface FlagSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** Placeholder of the value in the usage text (FILE, PORT, …). */
  value?: string;
  /** The environment variable read when the flag is not given. */
  env?: string;
  /** The default, as the usage shows it. */
  default?: string;
  /** Shown as required; the component checks it (a value may come from the environment). */
  required?: boolean;
  help: string;
}

export interface CommandUsage<T extends Record<string, FlagSpec>> {
  /** As typed: `live-migration webhook`. */
  command: string;
  summary: string;
  flags: T;
  /** Lines after the flags (signals, exit codes). */
  footer?: string;
}

export type FlagValues<T extends Record<string, FlagSpec>> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : T[K]['multiple'] extends true ? string[] : string;
};

export type ParseOutcome<T extends Record<string, FlagSpec>> =
  | { kind: 'values'; values: FlagValues<T> }
  | { kind: 'help'; text: string }
  | { kind: 'error'; message: string };

const WIDTH = 30;

export function formatUsage<T extends Record<string, FlagSpec>>(usage: CommandUsage<T>): string {
  const lines = [usage.summary, '', `Usage: ${usage.command} [flags]`, '', 'Flags (a flag wins over its environment variable):'];
  const rows: Array<[string, FlagSpec]> = [...Object.entries(usage.flags), ['help', { type: 'boolean', help: 'print this usage and exit' }]];
  for (const [name, spec] of rows) {
    const left = `  --${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}${name === 'help' ? ', -h' : ''}`;
    const extras = [spec.required ? 'required' : '', spec.multiple ? 'repeatable' : '', spec.env ? `env ${spec.env}` : '', spec.default !== undefined ? `default ${spec.default}` : '']
      .filter(Boolean)
      .join('; ');
    const text = extras ? `${spec.help} (${extras})` : spec.help;
    lines.push(left.length < WIDTH - 1 ? `${left.padEnd(WIDTH)}${text}` : `${left}\n${' '.repeat(WIDTH)}${text}`);
  }
  if (usage.footer) lines.push('', usage.footer);
  return `${lines.join('\n')}\n`;
}

/** Pure: what the arguments ask for. */
export function parseFlagArgs<T extends Record<string, FlagSpec>>(usage: CommandUsage<T>, args: string[]): ParseOutcome<T> {
  const options = Object.fromEntries(
    Object.entries(usage.flags).map(([name, spec]) => [name, { type: spec.type, ...(spec.multiple ? { multiple: true } : {}) }]),
  );
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    if (values.help === true) return { kind: 'help', text: formatUsage(usage) };
    delete values.help;
    return { kind: 'values', values: values as FlagValues<T> };
  } catch (error) {
    // node's first sentence names the culprit (advice on positionals may follow); under some
    // runners the message carries the "TypeError [CODE]: " prefix too.
    const text = (error instanceof Error ? error.message : String(error)).replace(/^\w*Error \[\w+\]: /, '');
    const message = text.split(/\.\s/)[0] ?? text;
    return { kind: 'error', message };
  }
}

/** The process's flags; prints the usage and exits 0 on --help, exits 2 naming a bad argument. */
export function parseFlags<const T extends Record<string, FlagSpec>>(usage: CommandUsage<T>, args = process.argv.slice(2)): FlagValues<T> {
  const outcome = parseFlagArgs(usage, args);
  if (outcome.kind === 'values') return outcome.values;
  if (outcome.kind === 'help') {
    process.stdout.write(outcome.text);
    process.exit(0);
  }
  process.stderr.write(`${usage.command}: ${outcome.message}\nRun '${usage.command} --help' for the flags.\n`);
  process.exit(2);
}
