// Writes the generated manifests (CRDs) from the schemas in api/. Run `npm run generate`.
import { writeFileSync } from 'node:fs';
import { renderGeneratedFiles } from '../api/generated-files.js';

for (const [path, content] of renderGeneratedFiles()) {
  writeFileSync(path, content);
  console.log(`wrote ${path}`);
}
