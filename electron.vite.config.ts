// electron-vite builds three bundles into out/: main (the app entry, the engine process entry
// that utilityProcess forks, and the document reader's worker-thread entry), a sandboxed preload as ONE CommonJS file, and the Svelte renderer.
// Native modules stay external in main: node-llama-cpp and better-sqlite3 load their .node
// binaries from node_modules (asar-unpacked by electron-builder.yml).
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';

const root = import.meta.dirname;
const NATIVE = ['node-llama-cpp', 'better-sqlite3'];

export default defineConfig({
  main: {
    build: {
      outDir: resolve(root, 'out/main'),
      externalizeDeps: { include: NATIVE },
      rolldownOptions: {
        input: {
          index: resolve(root, 'src-main/app/main.ts'),
          engineProcess: resolve(root, 'src-engine/engineProcess.ts'),
          documentWorker: resolve(root, 'src-main/documents/extractWorker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(root, 'out/preload'),
      // a sandboxed preload cannot require() anything but a few Electron modules: bundle it all
      externalizeDeps: false,
      isolatedEntries: true,
      rolldownOptions: {
        input: { index: resolve(root, 'src-main/app/preload.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src-renderer'),
    base: './',
    plugins: [svelte()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      rolldownOptions: { input: { index: resolve(root, 'src-renderer/index.html') } },
    },
  },
});
