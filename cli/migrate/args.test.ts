import { describe, expect, it } from '@jest/globals';
import { parseCommand, UsageError } from './args.js';

const usageError = (argv: string[]) => {
  try {
    parseCommand(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error(`${argv.join(' ')} parsed`);
};

describe('kubectl migrate arguments', () => {
  it('starts a migration of a VMI with a node selector and --wait', () => {
    expect(parseCommand(['vmi-a', '-n', 'demo', '--node-selector', 'zone=b,disk=ssd', '--node-selector=rack=3', '--wait'])).toEqual({
      kind: 'migrate',
      vmi: 'vmi-a',
      namespace: 'demo',
      nodeSelector: { zone: 'b', disk: 'ssd', rack: '3' },
      wait: true,
      allNamespaces: false,
      output: 'text',
    });
  });

  it('reads the subcommands and kubectl-style flag forms', () => {
    expect(parseCommand(['cancel', 'vmi-a', '-ndemo'])).toMatchObject({ kind: 'cancel', vmi: 'vmi-a', namespace: 'demo' });
    expect(parseCommand(['status', '-A', '-w', '-o', 'json'])).toMatchObject({ kind: 'status', allNamespaces: true, watch: true, output: 'json' });
    expect(parseCommand(['status'])).toEqual({ kind: 'status', watch: false, allNamespaces: false, output: 'text' });
    expect(parseCommand(['history', 'vmi-a', '--output=yaml'])).toMatchObject({ kind: 'history', vmi: 'vmi-a', output: 'yaml' });
    expect(parseCommand(['--', 'status'])).toMatchObject({ kind: 'migrate', vmi: 'status' });
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
  });

  it('refuses what it cannot mean, naming the problem', () => {
    expect(usageError([])).toMatch(/VMI name or a subcommand/);
    expect(usageError(['Bad_Name'])).toMatch(/"Bad_Name" is not a valid object name/);
    expect(usageError(['vmi-a', '-o', 'table'])).toMatch(/json or yaml/);
    expect(usageError(['vmi-a', '--node-selector', 'zone'])).toMatch(/"zone" is not key=value/);
    expect(usageError(['vmi-a', '--node-selector', 'zone=a b'])).toMatch(/not a valid label value/);
    expect(usageError(['vmi-a', '-n'])).toMatch(/-n needs a value/);
    expect(usageError(['vmi-a', '--bogus'])).toMatch(/unknown flag --bogus/);
    expect(usageError(['vmi-a', '-w'])).toMatch(/--watch does not apply to starting a migration/);
    expect(usageError(['status', '--wait'])).toMatch(/--wait does not apply to "status"/);
    expect(usageError(['cancel'])).toMatch(/VMI name is required/);
    expect(usageError(['history', 'a', 'b'])).toMatch(/unexpected argument "b"/);
    expect(usageError(['status', '-A', '-n', 'x'])).toMatch(/exclude each other/);
    expect(usageError(['status', 'vmi-a', '-A'])).toMatch(/give no VMI name/);
    expect(usageError(['vmi-a', '--wait=yes'])).toMatch(/--wait takes no value/);
  });

  it('reads drain NODE with --wait, --cancel and --taint-key', () => {
    expect(parseCommand(['drain', 'node-1', '--wait'])).toMatchObject({ kind: 'drain', node: 'node-1', wait: true, cancel: false, taintKey: 'kubevirt.io/drain' });
    expect(parseCommand(['drain', 'node-1', '--cancel', '--taint-key=example.com/drain'])).toMatchObject({ kind: 'drain', node: 'node-1', wait: false, cancel: true, taintKey: 'example.com/drain' });
    expect(usageError(['drain'])).toBe('node name is required');
    expect(usageError(['drain', 'node-1', '--wait', '--cancel'])).toBe('--wait and --cancel exclude each other');
    expect(usageError(['drain', 'node-1', '-n', 'demo'])).toBe('--namespace does not apply to "drain"');
    expect(usageError(['drain', 'node-1', '--taint-key', 'bad key'])).toBe('--taint-key: "bad key" is not a taint key');
    expect(usageError(['vmi-a', '--cancel'])).toBe('--cancel does not apply to starting a migration');
  });
});

describe('console', () => {
  it('parses console VMI [-f] with the agent certificate flags', () => {
    expect(parseCommand(['console', 'vm1', '-n', 'ns', '-f', '--agent-cert', 'c.crt', '--agent-key=c.key', '--agent-ca', 'ca.crt'])).toEqual({
      kind: 'console',
      vmi: 'vm1',
      follow: true,
      agentTls: { cert: 'c.crt', key: 'c.key', ca: 'ca.crt' },
      namespace: 'ns',
      allNamespaces: false,
      output: 'text',
    });
    expect(parseCommand(['console', 'vm1'])).toMatchObject({ kind: 'console', follow: false, agentTls: {} });
  });

  it('refuses what does not apply to it', () => {
    expect(() => parseCommand(['console'])).toThrow('VMI name is required');
    expect(() => parseCommand(['console', 'vm1', '--wait'])).toThrow('--wait does not apply to "console"');
    expect(() => parseCommand(['vm1', '-f'])).toThrow('--follow does not apply to starting a migration');
  });
});
