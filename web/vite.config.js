import { defineConfig } from 'vite';

// In development (`npm run dev`), /api goes to the backend as the runtime's serve.mjs does.
export default defineConfig({
  server: {
    host: true,
    port: 5173,
    proxy: { '/api': process.env.BACKEND_URL || 'http://localhost:3000' },
  },
});
