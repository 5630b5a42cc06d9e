// WebGPU device setup shared by the page, the worker and the headless CLI.
// Asks for the adapter's maxima where they matter to us (big storage bindings, workgroup memory,
// storage buffers per stage), falls back to defaults when refused, and turns every way of not
// getting a GPU into a GpuError the UI and CLI can show as it is.

export type GpuErrorKind = 'no-webgpu' | 'no-adapter' | 'device-failed' | 'device-lost' | 'validation';

export class GpuError extends Error {
  constructor(readonly kind: GpuErrorKind, message: string) {
    super(message);
    this.name = 'GpuError';
  }
}

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The limits the device was created with (not the adapter's). */
  limits: Record<string, number>;
  features: string[];
  /** True when the device had to be created with default limits. */
  fellBack: boolean;
}

export interface GpuHandle {
  device: GPUDevice;
  info: GpuInfo;
}

/** The limits we raise to the adapter's maximum when it offers more than the default. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];

export const NO_WEBGPU_HELP =
  'This browser does not expose WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Firefox ' +
  'over https or localhost, or switch to the CPU backend (slow, fine for the tiny model).';

export async function createGpu(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GpuHandle> {
  if (!gpu) throw new GpuError('no-webgpu', NO_WEBGPU_HELP);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new GpuError('no-adapter', `requestAdapter failed: ${String(e)}`);
  }
  if (!adapter) {
    throw new GpuError('no-adapter',
      'WebGPU is present but no GPU adapter was found (blocklisted driver, or no GPU). ' +
      'In Chrome check chrome://gpu; otherwise switch to the CPU backend.');
  }

  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const name of WANTED_LIMITS) {
    const v = adapterLimits[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));

  let device: GPUDevice;
  let fellBack = false;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'rlvr-lab' });
  } catch {
    fellBack = true;
    try {
      device = await adapter.requestDevice({ label: 'rlvr-lab (default limits)' });
    } catch (e) {
      throw new GpuError('device-failed', `requestDevice failed even with default limits: ${String(e)}`);
    }
  }

  const limits: Record<string, number> = {};
  const deviceLimits = device.limits as unknown as Record<string, number>;
  for (const name of WANTED_LIMITS) limits[name] = deviceLimits[name];
  const ai = adapter.info;
  const info: GpuInfo = {
    vendor: ai?.vendor ?? '',
    architecture: ai?.architecture ?? '',
    device: ai?.device ?? '',
    description: ai?.description ?? '',
    limits,
    features: [...device.features].map(String).sort(),
    fellBack,
  };
  return { device, info };
}

export function describeGpu(info: GpuInfo): string {
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  return `${name}; max binding ${mib(info.limits.maxStorageBufferBindingSize)}, workgroup storage ` +
    `${info.limits.maxComputeWorkgroupStorageSize} B, ${info.limits.maxStorageBuffersPerShaderStage} storage buffers/stage; ` +
    `features: ${info.features.join(', ') || 'none'}${info.fellBack ? ' (default limits: the adapter refused its maxima)' : ''}`;
}
