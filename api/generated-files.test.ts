import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { renderGeneratedFiles } from './generated-files.js';

describe('generated manifests', () => {
  it('are committed as the schemas render them (run `npm run generate` after changing api/schemas)', () => {
    for (const [path, content] of renderGeneratedFiles()) {
      expect({ path, content: readFileSync(path, 'utf8') }).toEqual({ path, content });
    }
  });
});
