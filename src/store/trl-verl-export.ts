// The same experiment for people who outgrow one machine: a ready-to-edit Python script for HF
// TRL's GRPOTrainer with PEFT, and a verl config for its DAPO recipe, carrying the method and
// hyperparameters. The base model and the dataset are theirs to fill in: the lab's random model
// and in-browser task generators do not exist there.
//
// Checked against (docs/SCALE-OUT.md lists what maps one to one, what is converted, what is refused):
//   TRL  trl/trainer/grpo_trainer.py, grpo_config.py (1.10.0.dev0, f2cd577)
//   verl verl/trainer/config/_generated_ppo_trainer.yaml, verl/workers/fsdp_workers.py,
//        verl/workers/config/optimizer.py (0.8.0.dev, b178a3c) and the DAPO recipe at verl's pinned
//        recipe submodule (verl-recipe 21892b9: dapo/config/dapo_trainer.yaml, dapo/dapo_ray_trainer.py)
//   PEFT peft/optimizers/loraplus.py, lorafa.py, tuners/adalora/model.py (0.20.1.dev0, 5d602fd)
// What each method adds to the script, and its verl LoRA or the reason verl cannot train it, are its
// module's (MethodSpec.trlVerl in src/peft); this file writes the recipe around them.
// The keys and fields used are kept in tests/fixtures/scaleout/ and checked by trl-verl-export.test.ts.
import type { ModelSource } from '../model/source.ts';
import { toHfPeftConfig } from '../peft/hf.ts';
import { getMethod } from '../peft/registry.ts';
import type { VerlLora } from '../peft/types.ts';
import type { RLConfig } from '../rl/config.ts';
import { encodeModel, toQuery } from './share.ts';

/** A setting the target cannot express: the export is refused with the reason rather than written wrong. */
export class ExportRefused extends Error {
  constructor(readonly target: 'TRL' | 'verl', reason: string) {
    super(`${target} export refused: ${reason}`);
    this.name = 'ExportRefused';
  }
}

const py = (v: unknown): string =>
  v === null || v === undefined ? 'None' : typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'string' ? JSON.stringify(v)
    : Array.isArray(v) ? `[${v.map(py).join(', ')}]` : typeof v === 'object' ? `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}` : String(v);

/** The PEFT config dict for training (metadata dropped, inference_mode off). */
function peftDict(c: RLConfig): Record<string, unknown> {
  const d = { ...toHfPeftConfig(c.peft) };
  for (const k of ['auto_mapping', 'peft_version', 'base_model_name_or_path', 'revision']) delete d[k];
  d.inference_mode = false;
  return d;
}

function header(c: RLConfig, m: ModelSource, comment: string): string {
  return [
    `${comment} Exported by RLVR Lab: task ${c.task}, method ${c.peft.method}, loss ${c.lossType}, seed ${c.seed}.`,
    `${comment} Lab link settings: ?${toQuery(c, m) || '(defaults)'}`,
    `${comment} The lab trained a ${encodeModel(m)} model; set the model path to a real checkpoint (the study used Qwen2.5 / DeepSeek-R1-Distill).`,
  ].join('\n');
}

/** Optimizer steps the lab takes in a run: one per mini-batch per epoch per rollout. */
export function optimizerSteps(c: RLConfig): number {
  return c.steps * c.miniBatches * c.epochs;
}

const TRL_SCHEDULE: Record<RLConfig['schedule'], string> = { constant: 'constant_with_warmup', cosine: 'cosine', linear: 'linear' };

export function trlScript(c: RLConfig, m: ModelSource): string {
  const completions = c.groupSize * c.promptsPerStep;
  if (completions % c.miniBatches !== 0) {
    throw new ExportRefused('TRL', `${completions} completions per rollout do not split into ${c.miniBatches} equal mini-batches; TRL's steps_per_generation needs per_device_train_batch_size × ${c.miniBatches} = the generation batch`);
  }
  const perDevice = completions / c.miniBatches;
  const method = c.peft.method;
  // What the method adds to the script: its notes, its own model and optimizer setup, trainer class, callbacks.
  const own = getMethod(method).trlVerl.trl(c.peft, c);
  const peft = own.adapter === false ? null : peftDict(c);
  const notes: string[] = [];
  if (c.dynamicSampling) {
    notes.push('# DAPO dynamic sampling (drop groups whose accuracy does not vary, refill) has no GRPOTrainer switch: here every group',
      '# trains; groups with equal rewards get advantage 0, but groups that differ only by the overlong penalty still train.');
  }
  notes.push(...own.notes ?? []);
  // A method that builds its PEFT model itself hands the trainer that model; the others hand it PEFT's config.
  const setup = own.model
    ? `model = get_peft_model(AutoModelForCausalLM.from_pretrained(MODEL), peft_config)${own.model.comment ? `  # ${own.model.comment}` : ''}\n${own.model.setup}`
    : '';
  const trainerArgs = [...own.model ? [] : ['peft_config=peft_config'], ...own.trainerArgs ?? []].map((a) => `, ${a}`).join('');
  const imports = [
    'import re', 'import torch', 'from datasets import load_dataset', 'from peft import get_peft_config, get_peft_model',
    ...own.imports ?? [],
    ['from transformers import AutoModelForCausalLM', ...own.transformers ?? []].join(', '),
    'from trl import GRPOConfig, GRPOTrainer',
    ...(c.overlongShaping ? ['from trl.rewards import get_soft_overlong_punishment'] : []),
  ];
  return `${header(c, m, '#')}
# pip install "trl>=0.23" peft transformers datasets
${imports.join('\n')}

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # replace
# Rows with "prompt" and "answer"; the lab's verifier reads the text after "Answer: ".
dataset = load_dataset("json", data_files="train.jsonl", split="train")

def accuracy_reward(completions, answer, **kwargs):
    out = []
    for text, ref in zip(completions, answer):
        text = text if isinstance(text, str) else text[-1]["content"]
        m = re.search(r"Answer:\\s*(\\S+)", text)
        out.append(1.0 if m and m.group(1).strip() == str(ref).strip() else 0.0)
    return out
${notes.length ? `\n${notes.join('\n')}\n` : ''}
peft_config = ${peft ? `get_peft_config(${py(peft)})` : 'None  # full fine-tuning'}
${setup}${own.code ?? ''}
args = GRPOConfig(
    output_dir="rlvr-lab-${method}-${c.lossType}-s${c.seed}",
    max_steps=${optimizerSteps(c)},                    # optimizer steps: ${c.steps} rollouts × ${c.miniBatches} mini-batches × ${c.epochs} epoch(s)
    seed=${c.seed},
    learning_rate=${c.lr},
    lr_scheduler_type="${TRL_SCHEDULE[c.schedule]}",
    warmup_steps=${c.warmupSteps},
    weight_decay=${c.weightDecay},
    adam_beta1=${c.adamBeta1},
    adam_beta2=${c.adamBeta2},
    adam_epsilon=${c.adamEps},
    max_grad_norm=${c.maxGradNorm},
    num_generations=${c.groupSize},                 # G completions per prompt
    per_device_train_batch_size=${perDevice},      # ${completions} completions per rollout / ${c.miniBatches} mini-batches (one GPU)
    gradient_accumulation_steps=1,
    steps_per_generation=${c.miniBatches},          # optimizer steps per rollout
    num_iterations=${c.epochs},
    loss_type="${c.lossType}",${c.lossType === 'dapo' ? '                         # token sum / completion tokens of the whole rollout (num_items_in_batch)' : ''}
    scale_rewards="${c.scaleRewards}",
    epsilon=${c.epsLow},
    epsilon_high=${c.epsHigh},
    beta=${c.beta},
    temperature=${c.temperature},
    top_p=${c.topP},
    max_completion_length=${c.maxNewTokens},
    logging_steps=1,
)

reward_funcs = [accuracy_reward${c.overlongShaping ? `, get_soft_overlong_punishment(max_completion_len=${c.maxNewTokens}, soft_punish_cache=${c.overlongCache})` : ''}]
trainer = ${own.trainer ?? 'GRPOTrainer'}(model=${own.model ? 'model' : 'MODEL'}, reward_funcs=reward_funcs, args=args, train_dataset=dataset${trainerArgs})
trainer.train()
`;
}

/** verl's loss_agg_mode per lab loss (verl/trainer/ppo/core_algos.py agg_loss). */
const AGG: Record<RLConfig['lossType'], string> = { grpo: 'seq-mean-token-mean', bnpo: 'token-mean', dapo: 'token-mean', dr_grpo: 'seq-mean-token-sum-norm' };

/** verl's FSDP LoRA: get_peft_model(LoraConfig(r, lora_alpha, target_modules, exclude_modules, bias="none"))
 * (verl/workers/fsdp_workers.py), as the method's own mapping gives it (MethodSpec.trlVerl), or refused
 * with its reason. */
export function verlLora(c: RLConfig): VerlLora {
  const lora = getMethod(c.peft.method).trlVerl.verl(c.peft);
  if (typeof lora === 'string') throw new ExportRefused('verl', `${c.peft.method}: ${lora}`);
  return lora;
}

/** Largest divisor of n that is at most cap (a per-GPU micro batch that splits a mini-batch evenly). */
function divisorAtMost(n: number, cap: number): number {
  for (let d = Math.min(n, cap); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** The run as a verl config for the DAPO recipe. Throws ExportRefused for what verl cannot express. */
export function verlYaml(c: RLConfig, m: ModelSource): string {
  const refuse = (why: string): never => { throw new ExportRefused('verl', why); };
  const lora = verlLora(c);
  if (c.scaleRewards === 'batch') refuse('scaleRewards "batch" (std over the whole batch) has no verl GRPO switch; verl has norm_adv_by_std_in_grpo (group std) or none');
  if (c.schedule === 'linear') refuse('a linear learning-rate schedule: verl\'s FSDP optimizer accepts lr_scheduler_type constant or cosine only (verl/workers/config/optimizer.py)');
  if (c.promptsPerStep % c.miniBatches !== 0) {
    refuse(`verl splits a rollout into mini-batches of whole prompt groups (ppo_mini_batch_size counts prompts): ${c.promptsPerStep} prompts do not split into ${c.miniBatches}`);
  }
  const perRollout = c.miniBatches * c.epochs;
  if (c.warmupSteps % perRollout !== 0) {
    refuse(`verl's scheduler steps once per rollout; the lab's ${c.warmupSteps} warm-up optimizer steps are not a whole number of rollouts (${perRollout} optimizer steps each)`);
  }
  const miniPrompts = c.promptsPerStep / c.miniBatches;
  const micro = divisorAtMost(miniPrompts * c.groupSize, 16);
  const notes: string[] = [];
  if (c.lossType === 'dapo' && perRollout > 1) {
    notes.push('# loss: the lab\'s dapo (TRL) divides each optimizer step\'s token sum by the whole rollout\'s tokens; verl\'s token-mean',
      '# divides by the step\'s own tokens (verl agg_loss). Same direction; the lab\'s gradients are ~1/' + c.miniBatches + ' the size, which',
      '# differs only through max_grad_norm clipping and Adam\'s eps. Exact with one mini-batch and one epoch.');
  }
  if (c.schedule === 'cosine' && perRollout > 1) notes.push(`# lr: verl steps its cosine once per rollout (${c.steps} steps); the lab per optimizer step (${optimizerSteps(c)}): the same curve, sampled coarser.`);
  if (c.beta > 0) notes.push('# KL: verl\'s low_var_kl is the lab\'s k3 estimator clamped to [-10, 10].');
  if (c.adamEps !== 1e-8) notes.push(`# Adam eps: verl uses torch AdamW's default 1e-8; the lab used ${c.adamEps}.`);
  if (c.dynamicSampling) {
    notes.push('# dynamic sampling: both keep a prompt group only when its accuracy (metric acc) varies. verl samples gen_batch_size',
      `# prompts per round and raises after max_num_gen_batches rounds short of ${c.promptsPerStep} groups; the lab samples only the missing`,
      '# prompts and, after its last round, trains on the groups it has. Set max_num_gen_batches: 0 for no limit.');
  }
  const bool = (b: boolean) => (b ? 'true' : 'false');
  const seedLines = (indent: string) => `${indent}seed: ${c.seed}`;
  return `${header(c, m, '#')}
# verl + its DAPO recipe. Put this file in a folder, e.g. lab/, and from the root of a verl checkout
# (the search path below is relative to it) run:
#   python -m recipe.dapo.main_dapo --config-path "$PWD/lab" --config-name rlvr_lab_verl
# verl 0.8.0.dev (b178a3c), recipe/dapo at verl-recipe 21892b9. Adapter: ${lora.note}.
${notes.join('\n')}${notes.length ? '\n' : ''}hydra:
  searchpath:
    - file://verl/trainer/config

defaults:
  - ppo_trainer
  - _self_

algorithm:
  adv_estimator: grpo
  norm_adv_by_std_in_grpo: ${bool(c.scaleRewards !== 'none')}
  use_kl_in_reward: false
  filter_groups:
    _target_: verl.trainer.config.FilterGroupsConfig
    enable: ${bool(c.dynamicSampling)}
    metric: acc   # the reward function must return {"score": ..., "acc": ...}, as the DAPO math scorer does
    max_num_gen_batches: ${c.maxResampleRounds + 1}
data:
  train_files: train.parquet   # replace
  val_files: test.parquet      # replace
  train_batch_size: ${c.promptsPerStep}
  gen_batch_size: ${c.promptsPerStep}
  max_response_length: ${c.maxNewTokens}
${seedLines('  ')}
actor_rollout_ref:
  model:
    path: Qwen/Qwen2.5-0.5B-Instruct   # replace
    lora_rank: ${lora.rank}
    lora_alpha: ${lora.alpha}
${lora.rank === 0 ? '' : `    target_modules: [${c.peft.targets.join(', ')}]\n`}  actor:
    optim:
      lr: ${c.lr}
      weight_decay: ${c.weightDecay}
      betas: [${c.adamBeta1}, ${c.adamBeta2}]
      lr_warmup_steps: ${c.warmupSteps / perRollout}   # rollouts (the lab's ${c.warmupSteps} optimizer steps)
      lr_scheduler_type: ${c.schedule}
      min_lr_ratio: 0.0
      num_cycles: 0.5
      clip_grad: ${c.maxGradNorm}
    grad_clip: ${c.maxGradNorm}
    ppo_mini_batch_size: ${miniPrompts}   # prompts per optimizer step (${c.miniBatches} per rollout)
    ppo_micro_batch_size_per_gpu: ${micro}   # memory only: gradients accumulate over micro-batches
    use_dynamic_bsz: false
    ppo_epochs: ${c.epochs}
    clip_ratio_low: ${c.epsLow}
    clip_ratio_high: ${c.epsHigh}
    loss_agg_mode: ${AGG[c.lossType]}
${c.lossType === 'dr_grpo' ? `    loss_scale_factor: ${c.maxNewTokens}   # Dr. GRPO's constant: max completion length\n` : ''}    use_kl_loss: ${bool(c.beta > 0)}
    kl_loss_coef: ${c.beta}
    kl_loss_type: low_var_kl
    entropy_coeff: 0
    data_loader_seed: ${c.seed}
    fsdp_config:
${seedLines('      ')}
  ref:
    log_prob_micro_batch_size_per_gpu: ${micro}
    fsdp_config:
${seedLines('      ')}
  rollout:
    name: vllm
    'n': ${c.groupSize}
    temperature: ${c.temperature}
    top_p: ${c.topP}
    log_prob_micro_batch_size_per_gpu: ${micro}
reward_model:
  reward_manager: dapo
  overlong_buffer:
    enable: ${bool(c.overlongShaping)}
    len: ${c.overlongCache}
    penalty_factor: 1.0
    log: false
trainer:
  project_name: rlvr-lab
  experiment_name: ${c.peft.method}-${c.lossType}-s${c.seed}
  logger: [console]
  nnodes: 1
  n_gpus_per_node: 1
  total_training_steps: ${c.steps}
  test_freq: ${c.evalEvery > 0 ? c.evalEvery : -1}
`;
}
