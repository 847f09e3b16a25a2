import { defineConfig } from 'vite';

// Hashed file names under /assets/ (cached for a year by the component);
// index.html is the only unhashed file and is never cached.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
});
