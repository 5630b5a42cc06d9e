// What a parameter-efficient fine-tuning method is to the rest of the lab: a registry entry the UI
// and CLI read (name, description, settings with ranges, trainable-parameter count), and an
// instance that attaches to a Model (LinearAdapters for its target layers, or base parameters it
// unfreezes), owns its trainable tensors, and can merge itself into dense weights (on the backend
// for rollouts, or read back as HF PEFT's merged weights) and export itself in HF PEFT's format.
import type { Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Model, Proj } from '../model/model.ts';

export type MethodId =
  | 'full' | 'lora' | 'lora_r1' | 'rslora' | 'lora_plus' | 'lora_fa' | 'dora' | 'adalora'
  | 'miss' | 'pissa' | 'milora' | 'olora' | 'vera' | 'ia3' | 'ln_tuning';

/** Every setting any method reads; each method documents which ones apply. */
export interface PeftConfig {
  method: MethodId;
  /** Adapter rank r (LoRA family, DoRA, MiSS, VeRA; AdaLoRA's init_r). */
  r: number;
  /** LoRA alpha: scale s = alpha / r (alpha / √r for rsLoRA). */
  alpha: number;
  /** Dropout on the adapter input (0 allowed). */
  dropout: number;
  /** Linear layers to adapt. */
  targets: Proj[];
  /** LoRA+: B (and 1-D tensors) train at lr · ratio. */
  loraPlusRatio: number;
  /** AdaLoRA. */
  adalora: {
    targetR: number; tInit: number; tFinal: number; deltaT: number; beta1: number; beta2: number;
    orthRegWeight: number; totalStep: number;
    /** The study's runs never called the allocator; make it a switch. */
    allocate: boolean;
  };
  /** VeRA: initial λ_d, and the seed of the shared frozen projections. */
  vera: { dInitial: number; seed: number };
  /** IA³: which targets scale their input (feed-forward) rather than their output. */
  ia3FeedForward: Proj[];
  /** Seed for adapter initialisation. */
  seed: number;
}

export interface SettingSpec {
  key: string;
  label: string;
  kind: 'int' | 'float' | 'bool' | 'targets';
  min?: number;
  max?: number;
  help: string;
}

/** One trainable tensor, under its HF PEFT name, with its optimizer group. */
export interface TrainableParam {
  name: string;
  shape: number[];
  tensor: Tensor;
  grad: Tensor;
  /** Learning-rate multiplier (LoRA+ gives B lr·λ). */
  lrScale: number;
  weightDecay: boolean;
}

export interface PeftInstance {
  readonly config: PeftConfig;
  readonly params: TrainableParam[];
  /** Zero every trainable gradient (and the model's trainable base gradients). */
  zeroGrads(): void;
  /** Extra loss terms added to the objective (AdaLoRA's orthogonality regulariser), with their
   * gradients accumulated into `params`; returns the value. */
  regularize?(): Promise<number>;
  /** Called after each optimizer step (AdaLoRA's rank allocator). */
  afterStep?(step: number): Promise<void>;
  /** What afterStep keeps between steps, as named int32 tensors for checkpoints, and its restore
   * (an empty map: the state before the first step). */
  allocatorState?(): Map<string, Int32Array>;
  loadAllocatorState?(state: Map<string, Int32Array>): void;
  /** The effective dense weight of every adapted layer (HF base names, e.g. `model.layers.0.mlp.up_proj.weight`). */
  merged(): Promise<Map<string, Float32Array>>;
  /** Run `fn` (sampling: no gradients) with the model reading every adapted layer's merged weight,
   * formed on the backend without readback, and the adapters bypassed: the eval-mode forward (no
   * dropout) in fewer dispatches, equal to it up to float32 rounding. Base weights and adapter
   * tensors are left exactly as they were; the adapter tensors must not change inside `fn`. */
  withMerged<T>(fn: () => Promise<T>): Promise<T>;
  /** Every adapter tensor (trainable and frozen) and every base weight the init rewrote
   * (`…q_proj.base_layer.weight` for PiSSA/MiLoRA/OLoRA), under HF PEFT names. */
  snapshot(): Promise<Map<string, Float32Array>>;
  /** Set trainable tensors by HF PEFT name (a checkpoint, an imported adapter, a parity state).
   * Unknown names or wrong sizes throw, naming the tensor. */
  load(tensors: Map<string, Float32Array>): void;
  /** Dropout on while training (the default), off for evaluation and generation (PEFT's
   * module.train()/eval()). Methods without dropout may omit it. */
  setTraining?(on: boolean): void;
  /** Remove the adapters from the model and free their tensors. */
  detach(): void;
}

/** What a method's default experiment sets: the learning rate, and the adapter settings it
 * changes from that experiment's scale (registry.ts: EXPERIMENT_SCALE). */
export interface ExperimentDefaults {
  lr: number;
  peft?: Partial<PeftConfig>;
}

/** A method's defaults, each over the settings every method shares (registry.ts). */
export interface MethodDefaults {
  /** Its adapter settings at the study's scale (rank 32, α 64, dropout 0.05, every linear layer,
   * unless it sets its own): defaultPeftConfig, the base of a config read from HF PEFT. */
  peft?: Partial<PeftConfig>;
  /** Its default experiment, the study's recipe at the lab's scale (rl defaultConfig): rank 16,
   * α 32, no dropout, unless it sets its own. */
  study: ExperimentDefaults;
  /** The page's warm-up experiment (store pageDefaults): rank 16, α 64 (a tiny model's updates need
   * a larger scale), no dropout, unless it sets its own. */
  page: ExperimentDefaults;
}

/** A method in HF PEFT's format (PEFT 0.21): adapter_config.json both ways, and the tensors
 * save_pretrained writes. */
export interface HfMapping {
  /** adapter_config.json's fields after PEFT's common header (hf.ts), peft_type first. `asLora`:
   * save a PiSSA/OLoRA adapter as the equivalent plain LoRA (see exportAdapter). Throws for a
   * method PEFT has no adapter format for. */
  write(cfg: PeftConfig, opts: { asLora?: boolean }): Record<string, unknown>;
  /** Reading adapter_config.json: the peft_type values this method reads (several methods write
   * LORA; LoRA reads it and tells them apart), and the settings such a file sets, naming the
   * method; the rest are that method's defaults (defaultPeftConfig). */
  read?: {
    types: readonly string[];
    settings(json: Record<string, unknown>, type: string): Partial<PeftConfig> & { method: MethodId };
  };
  /** Every tensor save_pretrained writes for this config on this model, by saved name, with the
   * shape PEFT's layer builds (peft/tuners/<method>/layer.py). `rank` overrides r for LoRA (the
   * rank-2r conversions). */
  shapes(cfg: PeftConfig, model: ModelConfig, rank: number): Map<string, number[]>;
  /** The saved shape of a tensor the instance keeps flat and outside its params (VeRA's shared
   * projections), from its saved name and length; undefined for any other tensor. */
  bufferShape?(cfg: PeftConfig, saved: string, length: number): number[] | undefined;
  /** Always saved as the equivalent plain LoRA of rank 2r on the original weights, as `asLora`
   * does for PiSSA/OLoRA (MiLoRA: PEFT has no such init). */
  onlyAsLora?: boolean;
}

/** The optimizer settings a TRL script's own optimizer is built with (an RLConfig has them). */
export interface OptimizerSettings {
  lr: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
}

/** What a method adds to the TRL GRPOTrainer script (store/trl-verl-export.ts writes the rest). A
 * method that adds nothing has PEFT's config passed to the trainer as peft_config. */
export interface TrlRecipe {
  /** False: no PEFT config; the trainer trains the whole model (full fine-tuning). */
  adapter?: false;
  /** Comment lines before the PEFT config: where the script does not train as the lab did. */
  notes?: string[];
  /** The script builds the PEFT model itself (`model = get_peft_model(…)`, with `comment` on that
   * line), runs `setup` after it (an optimizer, …), and gives the trainer `model`. */
  model?: { comment?: string; setup: string };
  /** Python after the model: its own trainer class, callbacks. */
  code?: string;
  /** Import lines after PEFT's (its optimizers), and names imported from transformers. */
  imports?: string[];
  transformers?: string[];
  /** The trainer class (GRPOTrainer unless the method defines its own in `code`). */
  trainer?: string;
  /** Keyword arguments added to the trainer's call, e.g. `optimizers=(optimizer, None)`. */
  trainerArgs?: string[];
}

/** verl's FSDP LoRA settings (model.lora_rank, lora_alpha; rank 0: full fine-tuning) that train a
 * method exactly, and what the mapping is. */
export interface VerlLora {
  rank: number;
  alpha: number;
  note: string;
}

/** How a method trains under HF TRL and under verl (docs/SCALE-OUT.md). */
export interface TrlVerl {
  trl(cfg: PeftConfig, opt: OptimizerSettings): TrlRecipe;
  /** Its verl settings, or why verl cannot train it (a sentence; the export is refused with it). */
  verl(cfg: PeftConfig): VerlLora | string;
}

/** One PEFT method: everything the lab knows about it. Every method module builds its spec as one
 * literal with these fields in this order. */
export interface MethodSpec {
  id: MethodId;
  name: string;
  description: string;
  paper: string;
  /** The settings this method reads. */
  settings: SettingSpec[];
  defaults: MethodDefaults;
  /** Errors naming the setting, or [] when the config is valid for this model. */
  validate(cfg: PeftConfig, model: ModelConfig): string[];
  trainableCount(cfg: PeftConfig, model: ModelConfig): number;
  hf: HfMapping;
  /** The same method in TRL and verl's terms (store/trl-verl-export.ts). */
  trlVerl: TrlVerl;
  /** Its adapters on `model`; each trainable tensor carries its optimizer group (lrScale, weightDecay). */
  attach(model: Model, cfg: PeftConfig): Promise<PeftInstance>;
}
