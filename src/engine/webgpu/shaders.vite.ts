// Every WGSL file under shaders/, keyed by its path without extension ("core/matmul_tiled").
// Bundled by Vite (page, worker, vitest); the Node CLI uses shaders.node.ts instead.
const files = import.meta.glob('/shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export const shaders: Record<string, string> = Object.fromEntries(
  Object.entries(files).map(([path, code]) => [path.replace(/^\/shaders\//, '').replace(/\.wgsl$/, ''), code]),
);
