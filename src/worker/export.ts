// The trained adapter as files a user can take elsewhere: PEFT's save_pretrained layout
// (adapter_config.json + adapter_model.safetensors) for every adapter method, and for full
// fine-tuning (which has no adapter) the whole model in HF layout (config.json + model.safetensors).
import { paramShapes, toHfConfig } from '../model/config.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { exportAdapter } from '../peft/hf.ts';
import { loadCheckpoint } from '../rl/checkpoint.ts';
import type { AdapterExport, StoredRun } from './protocol.ts';
import { Session, type Built } from './session.ts';

export async function exportBuilt(b: Built, baseModelName: string | null): Promise<AdapterExport> {
  if (b.peft.config.method === 'full') {
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, shape] of paramShapes(b.model.cfg)) tensors[name] = { shape, data: await b.backend.read(b.model.p(name)) };
    return {
      format: 'safetensors',
      files: { 'config.json': JSON.stringify(toHfConfig(b.model.cfg), null, 2), 'model.safetensors': writeSafetensors(tensors) },
    };
  }
  const files = await exportAdapter(b.peft, { baseModelName });
  return { format: 'peft', files: { ...files } };
}

/** Rebuild a stored run on the CPU backend from its checkpoint and export it. */
export async function exportStored(session: Session, stored: StoredRun, baseModelName: string | null): Promise<AdapterExport> {
  const b = await session.build(stored.config, stored.model, 'cpu');
  try {
    loadCheckpoint(b.trainer, stored.checkpoint.tensors, stored.checkpoint.meta);
    return await exportBuilt(b, baseModelName);
  } finally {
    Session.free(b);
  }
}
