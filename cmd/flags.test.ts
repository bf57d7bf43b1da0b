import { describe, expect, it } from '@jest/globals';
import { formatUsage, parseFlagArgs, type CommandUsage, type FlagSpec } from './flags.js';

const usage = {
  command: 'live-migration demo',
  summary: 'A demo component.',
  flags: {
    port: { type: 'string', value: 'PORT', env: 'DEMO_PORT', default: '8443', help: 'HTTPS port' },
    node: { type: 'string', value: 'NAME', multiple: true, help: 'a node' },
    'tls-cert': { type: 'string', value: 'FILE', env: 'DEMO_CERT', required: true, help: 'serving certificate' },
    'no-register': { type: 'boolean', help: 'do not register' },
    'a-flag-with-a-rather-long-name': { type: 'string', help: 'wraps to its own line' },
  },
  footer: 'SIGTERM: exit 0.',
} satisfies CommandUsage<Record<string, FlagSpec>>;

describe('parseFlagArgs', () => {
  it('parses the flags of the table, repeatable ones as lists', () => {
    expect(parseFlagArgs(usage, ['--port=9443', '--node', 'a', '--node=b', '--no-register'])).toEqual({
      kind: 'values',
      values: { port: '9443', node: ['a', 'b'], 'no-register': true },
    });
  });

  it('--help or -h asks for the usage, whatever else is given', () => {
    expect(parseFlagArgs(usage, ['--help'])).toEqual({ kind: 'help', text: formatUsage(usage) });
    expect(parseFlagArgs(usage, ['--port=1', '-h']).kind).toBe('help');
  });

  it('names an unknown option, a missing value and a stray argument', () => {
    expect(parseFlagArgs(usage, ['--prot=1'])).toEqual({ kind: 'error', message: "Unknown option '--prot'" });
    expect(parseFlagArgs(usage, ['--port'])).toMatchObject({ kind: 'error', message: expect.stringContaining("'--port") });
    expect(parseFlagArgs(usage, ['extra'])).toMatchObject({ kind: 'error', message: expect.stringContaining("'extra'") });
  });
});

describe('formatUsage', () => {
  it('lists every flag with its value, environment variable and default, then --help and the footer', () => {
    const text = formatUsage(usage);
    expect(text.split('\n')).toEqual([
      'A demo component.',
      '',
      'Usage: live-migration demo [flags]',
      '',
      'Flags (a flag wins over its environment variable):',
      '  --port PORT                 HTTPS port (env DEMO_PORT; default 8443)',
      '  --node NAME                 a node (repeatable)',
      '  --tls-cert FILE             serving certificate (required; env DEMO_CERT)',
      '  --no-register               do not register',
      '  --a-flag-with-a-rather-long-name VALUE',
      '                              wraps to its own line',
      '  --help, -h                  print this usage and exit',
      '',
      'SIGTERM: exit 0.',
      '',
    ]);
  });
});
