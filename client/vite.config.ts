import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// scripts/client-build.ts runs Vite from the repo root, so the root must be pinned to this folder.
const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: true,
    // The editor chunk is CodeMirror plus the HTML, CSS and JavaScript grammars that markdown
    // embeds; it loads only on document pages, so its size is expected.
    chunkSizeWarningLimit: 800,
  },
})
