/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The dev server proxies the API and the collaboration socket to `mdreader serve` on :8000.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/ws": { target: "ws://127.0.0.1:8000", ws: true },
      "/s/": "http://127.0.0.1:8000",
    },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    // dist/.vite/manifest.json: the chunk graph, read by bench/web.py to size each route and
    // by the server to link the share page's script and stylesheet.
    manifest: true,
    rollupOptions: {
      // The app, and the script of the public share page (/s/{token}).
      input: { app: "index.html", share: "src/share.ts" },
    },
  },
  // The preview worker (src/lib/preview.worker.ts) and the chunks it loads (KaTeX, highlight.js
  // languages): named worker-* so that bench/web.py can tell them from the page's own.
  worker: {
    format: "es",
    rollupOptions: {
      output: {
        entryFileNames: "assets/worker-[name]-[hash].js",
        chunkFileNames: "assets/worker-[name]-[hash].js",
      },
    },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts", "tests/**/*.test.tsx"],
  },
});
