// The page picks its backend as the CLI's `--backend auto` does, and a chosen backend travels in the link.
import { describe, expect, it } from 'vitest';
import { isSoftwareAdapter as cliIsSoftware } from '../cli/backends.ts';
import { applyGpuCheck, setBackend, shareLink, useConfig } from './config.ts';
import { pageDefaults } from './defaults.ts';
import { isSoftwareAdapter } from '../worker/gpu.ts';
import { fromQuery, linkQuery } from './share.ts';

const adapters = [
  { vendor: 'google', architecture: 'swiftshader', device: '', description: '' },
  { vendor: '', architecture: '', device: '', description: 'SwiftShader Device (Subzero)' },
  { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '' },
  { vendor: 'mesa', architecture: '', device: 'lavapipe', description: '' },
  { vendor: 'nvidia', architecture: 'ada-lovelace', device: '', description: 'NVIDIA GeForce RTX 4090' },
  { vendor: 'apple', architecture: 'metal-3', device: '', description: '' },
  { vendor: 'intel', architecture: 'gen-12lp', device: '', description: '' },
];

describe('backend choice', () => {
  it('calls an adapter software exactly when the CLI does', () => {
    for (const a of adapters) {
      const full = { ...a, limits: {}, features: [], fellBack: false };
      expect(isSoftwareAdapter(a), JSON.stringify(a)).toBe(cliIsSoftware(full));
    }
    expect(adapters.filter(isSoftwareAdapter)).toHaveLength(4);
  });

  it('picks the CPU on a software rasteriser and WebGPU on a GPU, with the reason; a choice stays', () => {
    useConfig.setState({ backend: 'webgpu', backendSource: 'auto', backendReason: null });
    applyGpuCheck({ status: 'ready', description: 'google / swiftshader', software: true });
    expect(useConfig.getState().backend).toBe('cpu');
    expect(useConfig.getState().backendReason).toContain('software rasteriser');
    applyGpuCheck({ status: 'ready', description: 'nvidia', software: false });
    expect(useConfig.getState().backend).toBe('webgpu');
    applyGpuCheck({ status: 'unavailable', kind: 'no-adapter', message: 'none' });
    expect(useConfig.getState().backend).toBe('cpu');
    expect(useConfig.getState().backendReason).toContain('not available');

    setBackend('webgpu');
    applyGpuCheck({ status: 'ready', description: 'google / swiftshader', software: true });
    expect(useConfig.getState()).toMatchObject({ backend: 'webgpu', backendSource: 'chosen' });
    // A chosen WebGPU without WebGPU cannot stand: the CPU, said so.
    applyGpuCheck({ status: 'unavailable', kind: 'no-webgpu', message: 'none' });
    expect(useConfig.getState().backend).toBe('cpu');
  });

  it('a chosen backend is in the link and comes back; a picked one is not; a bad one is named', () => {
    const tiny = { kind: 'random', size: 'tiny' } as const;
    expect(linkQuery(pageDefaults(), tiny, 'cpu')).toBe('model=tiny&backend=cpu');
    expect(fromQuery('?model=tiny&backend=cpu')).toEqual({ config: pageDefaults(), model: tiny, backend: 'cpu', notes: [] });
    const bad = fromQuery('?model=tiny&backend=quantum');
    expect(bad.backend).toBeUndefined();
    expect(bad.notes).toEqual(['unknown backend "quantum"; the page picks one (webgpu or cpu)']);
    const loc = { origin: 'http://x', pathname: '/' };
    useConfig.setState({ config: pageDefaults(), model: tiny, backend: 'cpu', backendSource: 'auto' });
    expect(shareLink(useConfig.getState(), loc)).toBe('http://x/?model=tiny');
    useConfig.setState({ backendSource: 'chosen' });
    expect(shareLink(useConfig.getState(), loc)).toBe('http://x/?model=tiny&backend=cpu');
  });
});
