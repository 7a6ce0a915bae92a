// The one way tests find the real test model. A missing model is a failure that names the fix,
// never a silent skip.
import { existsSync } from 'node:fs';
import { modelPath, TEST_MODELS } from '../../scripts/testModels.js';

export function testModelPath(id: keyof typeof TEST_MODELS = 'smollm2'): string {
  const model = TEST_MODELS[id];
  if (!model) throw new Error(`unknown test model ${String(id)}`);
  const file = modelPath(model);
  if (!existsSync(file)) {
    throw new Error(`Test model ${model.fileName} is missing at ${file}. Fetch it with: npm run fetch-models`);
  }
  return file;
}
